package pkgmgr

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
	"mvdan.cc/sh/v3/syntax"
)

// corpusScripts are the scripts of every shell-form RUN in testdata/corpus:
// fuzz seeds, on top of testdata/fuzz/….
func corpusScripts(f testing.TB) []string {
	files, _ := filepath.Glob("testdata/corpus/*")
	var out []string
	seen := map[string]bool{}
	for _, file := range files {
		if strings.HasSuffix(file, ".md") {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, cs := range corpusSteps(f, filepath.Base(file), data) {
			if i, _, ok := shell.ScriptArg(cs.step.Args); ok && !seen[cs.step.Args[i]] {
				seen[cs.step.Args[i]] = true
				out = append(out, cs.step.Args[i])
			}
		}
	}
	return out
}

// fuzzStep builds a step around a script; mode picks the shell, the user
// and the environment, so one input covers several situations.
func fuzzStep(script string, mode uint8) Step {
	s := Step{Args: []string{"/bin/sh", "-c", script}}
	if mode&1 != 0 {
		s.Args = []string{"/bin/bash", "-o", "pipefail", "-c", script}
	}
	switch (mode >> 1) & 3 {
	case 1:
		s.User = "1000:1000"
	case 2:
		s.User = "node"
	case 3:
		s.User, s.Env = "1000", []string{"HOME=/home/app"}
	}
	switch (mode >> 3) & 3 {
	case 0:
		s.Env = append(s.Env, debianEnv...)
	case 1:
		s.Env = append(s.Env, golangEnv...)
	case 2:
		s.Env = append(s.Env, "PIP_NO_CACHE_DIR=1", "XDG_CACHE_HOME=/cache", "npm_config_cache=/npm", "UV_NO_CACHE=1",
			"COMPOSER_CACHE_DIR=/dev/null", "CARGO_HOME=/usr/local/cargo", "GEM_HOME=/usr/local/bundle", "RUBY_VERSION=3.4.1",
			"BUNDLE_PATH=/usr/local/bundle", "YARN_NODE_LINKER=node-modules", "PNPM_HOME=/pnpm", "MAMBA_ROOT_PREFIX=/opt/conda",
			"POETRY_VIRTUALENVS_IN_PROJECT=1")
	}
	if mode&32 != 0 {
		s.Mounts = []string{"/root/.cache", "/var/cache/apt"}
	}
	if mode&64 != 0 {
		s.Cwd = "/root"
	}
	return s
}

// seed is one of FuzzAnalyze's inputs.
type seed struct {
	script string
	mode   uint8
}

// analyzeSeeds are the seeds FuzzAnalyze adds: the corpus's scripts and
// every table case's.
func analyzeSeeds(t testing.TB) []seed {
	var seeds []seed
	for i, s := range corpusScripts(t) {
		seeds = append(seeds, seed{s, uint8(i)})
	}
	for _, cases := range tableCases() {
		for i, c := range cases {
			if c.argv == nil {
				seeds = append(seeds, seed{c.in, uint8(i)})
			} else {
				seeds = append(seeds, seed{c.argv[len(c.argv)-1], uint8(i | 1)})
			}
		}
	}
	return seeds
}

// FuzzAnalyze: any script, no panic, no error, and every plan is sound:
// edited scripts parse, a second pass has nothing left to edit (no
// --no-cache-dir left behind), caches are valid and not under user mounts.
func FuzzAnalyze(f *testing.F) {
	for _, s := range analyzeSeeds(f) {
		f.Add(s.script, s.mode)
	}
	f.Fuzz(func(t *testing.T, script string, mode uint8) {
		s := fuzzStep(script, mode)
		p, err := Analyze(s, Options{})
		if err != nil {
			t.Fatalf("%q: %v", script, err)
		}
		checkPlan(t, "fuzz", s, p)
	})
}

// FuzzSplice: every edit the walker can make (a command → `true`, a word
// or an assignment dropped), made alone, leaves a script that parses and
// changes nothing outside its bytes.
func FuzzSplice(f *testing.F) {
	for _, s := range corpusScripts(f) {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, script string, bash bool) {
		s := fuzzStep(script, 0)
		lang := syntax.LangPOSIX
		if bash {
			s.Args[0], lang = "/bin/bash", syntax.LangBash
		}
		if _, _, err := shell.Parse(script, lang); err != nil {
			return
		}
		walked := shell.Walk(s.Args, s.Env, s.User, s.Cwd)
		var edits []*shell.Edit
		for _, c := range walked.Commands {
			if c.Whole != nil && !c.Whole.All {
				edits = append(edits, c.Whole)
			}
			for _, w := range c.Argv[1:] {
				if e := shell.DeleteWord(w); e != nil {
					edits = append(edits, e)
				}
			}
			for _, site := range c.Inline {
				if site.Del != nil {
					edits = append(edits, site.Del)
				}
			}
		}
		for _, sites := range walked.Sites {
			for _, site := range sites {
				if site.Del != nil {
					edits = append(edits, site.Del)
				}
			}
		}
		for _, e := range edits {
			if e.Elem { // argv elements of the exec form: not a splice
				continue
			}
			out, err := shell.Apply(s.Args, []*shell.Edit{e})
			if err != nil {
				t.Fatalf("%q: %+v: %v", script, *e, err)
			}
			got := out[len(out)-1]
			if _, _, err := shell.Parse(got, lang); err != nil {
				t.Fatalf("edit %+v of %q gives %q, which doesn't parse: %v", *e, script, got, err)
			}
			if e.Arg == len(s.Args)-1 && (got[:e.Start] != script[:e.Start] || got[len(got)-(len(script)-e.End):] != script[e.End:]) {
				t.Fatalf("edit %+v of %q changed bytes outside it: %q", *e, script, got)
			}
		}
	})
}
