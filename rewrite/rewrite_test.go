package rewrite

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/autocache/autocache/llbtransform"
	"github.com/autocache/autocache/plan"
)

// proof is the LLB-equality and round-trip check of one Dockerfile: the
// stock conversion of the rewritten file equals autocache's definition
// for the original (equal_test.go says what "equal" ignores), and
// autocache over the rewritten file changes nothing.
func proof(t *testing.T, name string, dt []byte, opt plan.Options) *Result {
	t.Helper()
	ctx := context.Background()
	res, err := Rewrite(ctx, dt, opt)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	input, tr, err := plan.Transform(ctx, dt, opt)
	if err != nil {
		t.Fatal(err)
	}
	adjust, err := envAdjust(input, tr)
	if err != nil {
		t.Fatal(err)
	}
	stock, err := plan.Convert(ctx, res.Dockerfile, opt)
	if err != nil {
		t.Fatalf("%s: the rewritten file does not convert: %v\n%s", name, err, res.Dockerfile)
	}
	a, b := newCanon(tr.Def, adjust), newCanon(stock, nil)
	if ra, rb := a.root(tr.Def), b.root(stock); ra != rb && len(res.Left) == 0 {
		t.Errorf("%s: the stock LLB of the rewritten file differs from autocache's.\nonly autocache's:\n  %s\nonly the rewritten file's:\n  %s\nrewritten:\n%s",
			name, strings.Join(missing(a.execs, b.execs), "\n  "), strings.Join(missing(b.execs, a.execs), "\n  "), res.Dockerfile)
	}
	_, again, err := plan.Transform(ctx, res.Dockerfile, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range again.Steps {
		if s.Rewritten && len(res.Left) == 0 {
			t.Errorf("%s: autocache still changes line %d of the rewritten file: %q", name, stepLine(s), s.Notes)
		}
	}
	return res
}

// TestCorpusLLBEquality runs the proof over every Dockerfile of the corpus
// and the fixtures, offline (every base image an empty config, as `plan
// --offline`), for linux/amd64.
func TestCorpusLLBEquality(t *testing.T) {
	var files []string
	for _, g := range []string{"../pkgmgr/testdata/corpus/*", "../plan/testdata/*.Dockerfile", "../examples/*/Dockerfile", "testdata/*.Dockerfile"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	nFiles, nChanged, nSteps, nScript, nFiles2 := 0, 0, 0, 0, 0
	var excluded, left []string
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			continue
		}
		dt, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		opt := plan.Options{Offline: true, Platform: "linux/amd64", Filename: filepath.Base(f), BuildArgs: corpusArgs[filepath.Base(f)]}
		if _, _, err := plan.Transform(context.Background(), dt, opt); err != nil {
			// Upstream's conversion itself fails: nothing to compare.
			excluded = append(excluded, filepath.Base(f)+": "+firstLine(err.Error()))
			continue
		}
		nFiles++
		res := proof(t, filepath.Base(f), dt, opt)
		if res.Changed() {
			nChanged++
		}
		nSteps += len(res.Steps)
		for _, s := range res.Steps {
			if s.Script {
				nScript++
			}
		}
		if strings.Contains(string(res.Dockerfile), "FROM scratch AS autocache-files") {
			nFiles2++
		}
		for _, l := range res.Left {
			left = append(left, filepath.Base(f)+":"+itoa(l.Line)+": "+l.Why)
		}
	}
	t.Logf("%d Dockerfiles compared, %d rewritten: %d RUN steps written out (%d with script edits, %d files with generated files); equal LLB and a clean round trip for all",
		nFiles, nChanged, nSteps, nScript, nFiles2)
	t.Logf("excluded, upstream's conversion fails (%d):\n  %s", len(excluded), strings.Join(excluded, "\n  "))
	if len(left) > 0 {
		t.Errorf("steps left as they were (%d):\n  %s", len(left), strings.Join(left, "\n  "))
	}
	if nFiles < 100 || nSteps < 150 {
		t.Errorf("only %d files and %d steps: the corpus moved?", nFiles, nSteps)
	}
}

// corpusArgs are the build args a corpus Dockerfile needs to convert.
var corpusArgs = map[string]map[string]string{
	"pypa__pipenv__docker_Dockerfile": {"PYVERSION": "3.12"}, // FROM docker.io/python:${PYVERSION}, no default
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func itoa(n int) string { return strconv.Itoa(n) }

func stepLine(s llbtransform.Step) int { return llbtransform.FirstLine(s.Locations) }
