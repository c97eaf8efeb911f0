package pkgmgr

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/autocache/autocache/internal/fspath"
	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// checkPlan asserts what every plan must satisfy, whatever the step.
func checkPlan(t testing.TB, where string, s Step, p Plan) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: "+format, append([]any{where}, args...)...)
	}
	if len(p.Managers) == 0 {
		if p.Caches != nil || p.Files != nil || p.Args != nil || p.Env != nil {
			fail("no managers but a non-empty plan: %+v", p)
		}
		return
	}
	if !sort.StringsAreSorted(p.Managers) || len(slices.Compact(slices.Clone(p.Managers))) != len(p.Managers) {
		fail("managers not sorted/unique: %q", p.Managers)
	}
	for i, c := range p.Caches {
		if !path.IsAbs(c.Target) || path.Clean(c.Target) != c.Target || broadDirs[c.Target] {
			fail("bad cache target %q", c.Target)
		}
		if i > 0 && p.Caches[i-1].Target >= c.Target {
			fail("caches not sorted/unique at %q", c.Target)
		}
		if c.Sharing != Shared && c.Sharing != Locked && c.Sharing != Private {
			fail("bad sharing %q", c.Sharing)
		}
		if !slices.Contains(p.Managers, c.Manager) {
			fail("cache for undetected manager %q", c.Manager)
		}
		for _, m := range s.Mounts {
			if fspath.Within(c.Target, m) {
				fail("cache %s under the step's own mount %s", c.Target, m)
			}
		}
	}
	for i, f := range p.Files {
		if !path.IsAbs(f.Target) || (i > 0 && p.Files[i-1].Target >= f.Target) {
			fail("bad/unsorted file %q", f.Target)
		}
	}
	for _, kv := range p.Env {
		if k, _, _ := strings.Cut(kv, "="); !slices.Contains(s.Env, kv) && !registered().stepEnv[k] {
			fail("env gained %q", kv)
		}
	}
	if slices.Equal(p.Args, s.Args) {
		return
	}
	// Every script the step runs that an edit changed still parses (Analyze
	// does not check).
	if err := shell.Walk(s.Args, s.Env, s.User, s.Cwd).Reparse(s.Args, p.Args); err != nil {
		fail("edited script doesn't parse: %v\n%q", err, p.Args)
	}
	// Edits keep the shell prefix and give a script that still parses.
	if i, lang, ok := shell.ScriptArg(s.Args); ok {
		if len(p.Args) != len(s.Args) || !slices.Equal(p.Args[:i], s.Args[:i]) {
			fail("shell prefix changed: %q → %q", s.Args, p.Args)
			return
		}
		if _, _, err := shell.Parse(p.Args[i], lang); err != nil {
			fail("edited script doesn't parse: %v\n%s", err, p.Args[i])
		}
	}
	if len(p.Caches) == 0 {
		fail("edited a step without mounting anything: %q", p.Args)
	}
	// Edits are done once: the edited step needs no more.
	s2 := s
	s2.Args, s2.Env = p.Args, p.Env
	p2, err := Analyze(s2, Options{})
	if err != nil {
		fail("re-analysis: %v", err)
		return
	}
	if p2.Args != nil && !slices.Equal(p2.Args, p.Args) {
		fail("re-analysis edits again:\n%q\n%q\nnotes %q", p.Args, p2.Args, p2.Notes)
	}
	for _, n := range p2.Notes {
		if strings.Contains(n, "dropped --no-ca") {
			fail("re-analysis still finds %s", n)
		}
	}
}

// tcase is one table test: a step in, the plan expected out.
type tcase struct {
	name   string
	in     string   // script for ["/bin/sh", "-c", in]
	argv   []string // instead of in: the whole argv
	env    []string // Step.Env; defaults to debianEnv
	user   string
	cwd    string
	mounts []string
	os     string
	rel    *OSRelease // Step.Release; nil = not known

	none    bool     // expect a zero plan
	out     string   // expected script; "" = unchanged
	outArgv []string // expected argv (instead of out)
	caches  []string // "target sharing uid:gid", sorted by target
	files   bool     // the apt.conf.d files
	outEnv  []string // expected Plan.Env; nil = unchanged
	notes   []string // each must be a substring of some note
}

var (
	debianEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	// golang:1.26 image
	golangEnv = []string{"PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"GOLANG_VERSION=1.26.0", "GOTOOLCHAIN=local", "GOPATH=/go"}
	// node:22 image
	nodeEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NODE_VERSION=22.12.0", "YARN_VERSION=1.22.22"}
	// python:3.13-slim image
	pythonEnv = []string{"PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8", "GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305", "PYTHON_VERSION=3.13.1"}
)

// casesOf are the managers' tables, by manager: each manager's test file
// registers its own (registry_test.go checks that every manager has one).
var casesOf = map[string][]tcase{}

func registerCases(manager string, cases []tcase) { casesOf[manager] = cases }

// tableCases are all the managers' tables (fuzz seeds, real-shell checks),
// in the order of their managers' names.
func tableCases() [][]tcase {
	var all [][]tcase
	for _, n := range slices.Sorted(maps.Keys(casesOf)) {
		all = append(all, casesOf[n])
	}
	return all
}

func (c tcase) step() Step {
	s := Step{Args: c.argv, Env: c.env, User: c.user, Cwd: c.cwd, Mounts: c.mounts, OS: c.os}
	if s.Args == nil {
		s.Args = []string{"/bin/sh", "-c", c.in}
	}
	if s.Env == nil {
		s.Env = debianEnv
	}
	if c.rel != nil {
		rel := *c.rel
		s.Release = &rel
	}
	return s
}

func runCases(t *testing.T, cases []tcase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.step()
			p, err := Analyze(s, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, c.name, s, p)
			if c.none {
				if len(p.Managers) != 0 {
					t.Fatalf("want no plan, got %+v", p)
				}
				return
			}
			if len(p.Managers) == 0 {
				t.Fatalf("want a plan, got none (notes %q)", p.Notes)
			}
			wantArgs := c.outArgv
			if wantArgs == nil {
				wantArgs = slices.Clone(s.Args)
				if c.out != "" {
					wantArgs[len(wantArgs)-1] = c.out
				}
			}
			if !slices.Equal(p.Args, wantArgs) {
				t.Errorf("args\n got %q\nwant %q", p.Args, wantArgs)
			}
			var caches []string
			for _, m := range p.Caches {
				c := fmt.Sprintf("%s %s %d:%d", m.Target, m.Sharing, m.UID, m.GID)
				if m.PerImage {
					c += " per-image"
				}
				caches = append(caches, c)
			}
			if !slices.Equal(caches, c.caches) {
				t.Errorf("caches\n got %q\nwant %q", caches, c.caches)
			}
			if got := len(p.Files) > 0; got != c.files {
				t.Errorf("files: got %v, want %v", p.Files, c.files)
			}
			wantEnv := c.outEnv
			if wantEnv == nil {
				wantEnv = s.Env
			}
			if !slices.Equal(p.Env, wantEnv) {
				t.Errorf("env\n got %q\nwant %q", p.Env, wantEnv)
			}
			for _, n := range c.notes {
				if !slices.ContainsFunc(p.Notes, func(x string) bool { return strings.Contains(x, n) }) {
					t.Errorf("no note containing %q in %q", n, p.Notes)
				}
			}
			if t.Failed() {
				t.Logf("notes: %q", p.Notes)
			}
		})
	}
}
