package pkgmgr

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

var update = flag.Bool("update", false, "rewrite testdata/corpus.golden")

// corpusStep is one RUN of a corpus Dockerfile as the solver would get it.
type corpusStep struct {
	where string // file:line
	step  Step
}

// corpusSteps turns the RUNs of a Dockerfile into Steps the way
// dockerfile2llb's dispatchRun does (shell prefix, heredocs), tracking ENV,
// ARG, USER, WORKDIR and SHELL per stage. Values are not expanded beyond
// what instructions.Parse does; good enough to exercise Analyze.
func corpusSteps(t testing.TB, name string, data []byte) []corpusStep {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	type stageState struct {
		env, shell []string
		user, cwd  string
	}
	done := map[string]stageState{}
	var out []corpusStep
	for _, st := range stages {
		env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
		shell := []string{"/bin/sh", "-c"}
		user, cwd := "", "/"
		if base, ok := done[strings.ToLower(st.BaseName)]; ok { // FROM an earlier stage
			env, shell, user, cwd = append([]string(nil), base.env...), base.shell, base.user, base.cwd
		}
		for _, cmd := range st.Commands {
			switch c := cmd.(type) {
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					env = append(env, kv.Key+"="+kv.Value)
				}
			case *instructions.ArgCommand:
				for _, kv := range c.Args {
					if kv.Value != nil {
						env = append(env, kv.Key+"="+*kv.Value)
					}
				}
			case *instructions.UserCommand:
				user = c.User
			case *instructions.WorkdirCommand:
				cwd = path.Join(cwd, c.Path)
				if path.IsAbs(c.Path) {
					cwd = path.Clean(c.Path)
				}
			case *instructions.ShellCommand:
				shell = c.Shell
			case *instructions.RunCommand:
				args, ok := runArgs(c, shell)
				if !ok {
					continue
				}
				s := Step{Args: args, Env: append([]string(nil), env...), User: user, Cwd: cwd}
				if err := c.Expand(func(w string) (string, error) { return w, nil }); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for _, m := range instructions.GetMounts(c) {
					target := m.Target
					if !path.IsAbs(target) {
						target = path.Join(cwd, target)
					}
					s.Mounts = append(s.Mounts, target)
				}
				line := 0
				if loc := c.Location(); len(loc) > 0 {
					line = loc[0].Start.Line
				}
				out = append(out, corpusStep{where: fmt.Sprintf("%s:%d", name, line), step: s})
			}
		}
		if st.Name != "" {
			done[strings.ToLower(st.Name)] = stageState{env, shell, user, cwd}
		}
	}
	return out
}

// runArgs mirrors dispatchRun: a lone heredoc without a shebang is the
// script; with one it becomes a file we can't see (skipped).
func runArgs(c *instructions.RunCommand, shell []string) ([]string, bool) {
	args := c.CmdLine
	if len(c.Files) > 0 {
		if h := parser.MustParseHeredoc(args[0]); h != nil {
			data := c.Files[0].Data
			if c.Files[0].Chomp {
				data = parser.ChompHeredocContent(data)
			}
			if strings.HasPrefix(data, "#!") {
				return nil, false
			}
			args = []string{data}
		} else {
			var b strings.Builder
			b.WriteString(args[0])
			for _, f := range c.Files {
				b.WriteByte('\n')
				b.WriteString(f.Data)
				b.WriteString(f.Name)
			}
			args = []string{b.String()}
		}
	}
	if c.PrependShell {
		args = append(append([]string(nil), shell...), strings.Join(args, " "))
	}
	return args, true
}

// TestCorpus runs every RUN of the real-world Dockerfiles in
// testdata/corpus through Analyze: no error, no panic, valid plans, and
// the same result as testdata/corpus.golden (go test -run Corpus -update).
func TestCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/corpus/*")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	var golden strings.Builder
	runs, detected, edited := 0, map[string]int{}, 0
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, cs := range corpusSteps(t, filepath.Base(f), data) {
			runs++
			p, err := Analyze(cs.step, Options{})
			if err != nil {
				t.Errorf("%s: %v", cs.where, err)
				continue
			}
			checkPlan(t, cs.where, cs.step, p)
			if len(p.Managers) == 0 {
				continue
			}
			for _, m := range p.Managers {
				detected[m]++
			}
			fmt.Fprintf(&golden, "== %s %s\n", cs.where, strings.Join(p.Managers, ","))
			for _, c := range p.Caches {
				per := ""
				if c.PerImage {
					per = " per-image"
				}
				fmt.Fprintf(&golden, "cache %s %s %d:%d%s\n", c.Target, c.Sharing, c.UID, c.GID, per)
			}
			for _, fm := range p.Files {
				fmt.Fprintf(&golden, "file %s\n", fm.Target)
			}
			for _, n := range p.Notes {
				fmt.Fprintf(&golden, "note %s\n", n)
			}
			if !slices.Equal(p.Args, cs.step.Args) {
				edited++
				fmt.Fprintf(&golden, "args %q\n", p.Args[len(p.Args)-1])
			}
			if !slices.Equal(p.Env, cs.step.Env) {
				fmt.Fprintf(&golden, "env %q\n", p.Env)
			}
		}
	}
	fmt.Fprintf(&golden, "== total: %d RUNs; detected %v; %d edited\n", runs, detected, edited)
	t.Logf("%d RUNs; detected %v; %d edited", runs, detected, edited)
	if runs < 400 {
		t.Errorf("only %d RUNs found in the corpus", runs)
	}
	const goldenFile = "testdata/corpus.golden"
	if *update {
		if err := os.WriteFile(goldenFile, []byte(golden.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := golden.String(); got != string(want) {
		t.Errorf("corpus results differ from %s (go test -run Corpus -update, then review the diff)\n%s", goldenFile, firstDiff(string(want), got))
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var x, y string
		if i < len(w) {
			x = w[i]
		}
		if i < len(g) {
			y = g[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\nwant: %s\ngot:  %s", i+1, x, y)
		}
	}
	return ""
}
