package rewrite

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/autocache/autocache/llbtransform"
	"github.com/autocache/autocache/plan"
)

// proof is the LLB-equality and round-trip check of one Dockerfile, for
// the default target and every other named stage: the stock conversion of
// the rewritten file equals autocache's definition for the original
// (equal_test.go says what "equal" ignores), and autocache over the
// rewritten file changes nothing. A target in which autocache changes a
// step that the rewrite left as it was (the targets disagree on it:
// Left.ByTarget) is not compared; skipped counts them.
func proof(t *testing.T, name string, dt []byte, opt plan.Options) (res *Result, compared, skipped int) {
	t.Helper()
	ctx := context.Background()
	res, err := Rewrite(ctx, dt, opt)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	left := map[int]bool{}
	for _, l := range res.Left {
		left[l.Line] = true
		if !l.ByTarget {
			t.Errorf("%s:%d: left as it was: %s", name, l.Line, l.Why)
		}
	}
	shift := bytes.Count(res.Dockerfile, []byte("\n")) - bytes.Count(dt, []byte("\n")) // the files stage's lines
	doc, err := parseDoc(dt)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range append([]string{opt.Target}, doc.targets()...) {
		o := opt
		o.Target = target
		input, tr, err := plan.Transform(ctx, dt, o)
		if err != nil {
			t.Fatalf("%s, target %q: %v", name, target, err)
		}
		if slices.ContainsFunc(tr.Steps, func(s llbtransform.Step) bool { return s.Rewritten && left[stepLine(s)] }) {
			skipped++
			continue
		}
		compared++
		adjust, err := envAdjust(input, tr)
		if err != nil {
			t.Fatal(err)
		}
		stock, err := plan.Convert(ctx, res.Dockerfile, o)
		if err != nil {
			t.Fatalf("%s: the rewritten file does not convert for target %q: %v\n%s", name, target, err, res.Dockerfile)
		}
		a, b := newCanon(tr.Def, adjust), newCanon(stock, nil)
		if ra, rb := a.root(tr.Def), b.root(stock); ra != rb {
			t.Errorf("%s, target %q: the stock LLB of the rewritten file differs from autocache's.\nonly autocache's:\n  %s\nonly the rewritten file's:\n  %s\nrewritten:\n%s",
				name, target, strings.Join(missing(a.execs, b.execs), "\n  "), strings.Join(missing(b.execs, a.execs), "\n  "), res.Dockerfile)
		}
		_, again, err := plan.Transform(ctx, res.Dockerfile, o)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range again.Steps {
			if s.Rewritten && !left[stepLine(s)-shift] {
				t.Errorf("%s, target %q: autocache still changes line %d of the rewritten file: %q", name, target, stepLine(s), s.Notes)
			}
		}
	}
	return res, compared, skipped
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
	nFiles, nChanged, nSteps, nScript, nFiles2, nTargets, nSkipped := 0, 0, 0, 0, 0, 0, 0
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
		res, c, sk := proof(t, filepath.Base(f), dt, opt)
		nTargets, nSkipped = nTargets+c, nSkipped+sk
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
	t.Logf("%d Dockerfiles, %d rewritten: %d RUN steps written out (%d with script edits; %d files with generated files)",
		nFiles, nChanged, nSteps, nScript, nFiles2)
	t.Logf("%d builds (file × target) compared: equal LLB and a clean round trip; %d not compared, a step's caches depend on the target (left as upstream has it):\n  %s",
		nTargets, nSkipped, strings.Join(left, "\n  "))
	t.Logf("excluded, upstream's conversion fails (%d):\n  %s", len(excluded), strings.Join(excluded, "\n  "))
	if nFiles < 100 || nSteps < 150 {
		t.Errorf("only %d files and %d steps: the corpus moved?", nFiles, nSteps)
	}
}

// corpusArgs are the build args a corpus Dockerfile needs to convert.
var corpusArgs = map[string]map[string]string{
	"pypa__pipenv__docker_Dockerfile": {"PYVERSION": "3.12"}, // FROM docker.io/python:${PYVERSION}, no default
}

func itoa(n int) string { return strconv.Itoa(n) }

func stepLine(s llbtransform.Step) int { return llbtransform.FirstLine(s.Locations) }

func rewriteFile(t *testing.T, df string) *Result {
	t.Helper()
	res, err := Rewrite(context.Background(), []byte(df), plan.Options{Offline: true, Platform: "linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// The comparison can fail: a rewritten file with one thing changed no
// longer equals autocache's definition.
func TestEqualityCanFail(t *testing.T) {
	df := "FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y curl && apt-get clean\nENV PIP_NO_CACHE_DIR=1\nRUN pip install flask\n"
	opt := plan.Options{Offline: true, Platform: "linux/amd64"}
	ctx := context.Background()
	res := rewriteFile(t, df)
	input, tr, err := plan.Transform(ctx, []byte(df), opt)
	if err != nil {
		t.Fatal(err)
	}
	adjust, err := envAdjust(input, tr)
	if err != nil {
		t.Fatal(err)
	}
	want := newCanon(tr.Def, adjust).root(tr.Def)
	equal := func(text string) bool {
		stock, err := plan.Convert(ctx, []byte(text), opt)
		if err != nil {
			t.Fatalf("%v\n%s", err, text)
		}
		return newCanon(stock, nil).root(stock) == want
	}
	if !equal(string(res.Dockerfile)) {
		t.Fatalf("the rewritten file itself differs:\n%s", res.Dockerfile)
	}
	for _, m := range []struct{ from, to string }{
		{",sharing=locked", ""},                          // sharing
		{"id=linux/amd64//var/cache/apt", "id=x"},        // cache id
		{"Keep-Downloaded-Packages \"true\";\nAPT", "x"}, // a generated file's contents
		{"&& true", "&& apt-get clean"},                  // a script edit
		{"unset PIP_NO_CACHE_DIR; ", ""},                 // an environment change
		{" --mount=type=cache,target=/root/.cache/pip ", " "},
	} {
		text := string(res.Dockerfile)
		if !strings.Contains(text, m.from) {
			t.Fatalf("%q not in the rewritten file:\n%s", m.from, text)
		}
		if equal(strings.Replace(text, m.from, m.to, 1)) {
			t.Errorf("replacing %q by %q went unnoticed", m.from, m.to)
		}
	}
}

// Rewriting a rewritten file changes nothing.
func TestRewriteIsIdempotent(t *testing.T) {
	dt, err := os.ReadFile("testdata/edges.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	first := rewriteFile(t, string(dt))
	if !first.Changed() || len(first.Steps) < 6 {
		t.Fatalf("%d steps written out", len(first.Steps))
	}
	if again := rewriteFile(t, string(first.Dockerfile)); again.Changed() || string(again.Dockerfile) != string(first.Dockerfile) {
		t.Fatalf("a second rewrite changed %d steps", len(again.Steps))
	}
}

// Lines and comments outside the rewritten RUN lines stay byte for byte.
func TestOnlyRunLinesChange(t *testing.T) {
	dt, err := os.ReadFile("testdata/edges.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	res := rewriteFile(t, string(dt))
	out := string(res.Dockerfile)
	stage := out[strings.Index(out, "# Files autocache generates"):strings.Index(out, "# Shapes the rewrite")]
	in, got := strings.Split(string(dt), "\n"), strings.Split(strings.Replace(out, stage, "", 1), "\n")
	if len(in) != len(got) {
		t.Fatalf("%d lines, want %d", len(got), len(in))
	}
	changed := map[int]bool{}
	for i := range in {
		if in[i] != got[i] {
			changed[i+1] = true
		}
	}
	for l := range changed {
		if !slices.ContainsFunc(res.Steps, func(s Step) bool { return l >= s.Line && l <= s.Line+10 }) {
			t.Errorf("line %d changed, but no step starts there: %q → %q", l, in[l-1], got[l-1])
		}
	}
	for _, keep := range []string{"# a comment inside the instruction", "        ca-certificates \\\n\n        curl; \\", "# autocache: off\nRUN pip install requests\n"} {
		if !strings.Contains(out, keep) {
			t.Errorf("%q is gone:\n%s", keep, out)
		}
	}
}

// What a Dockerfile can't say is left as it was, with why.
func TestLeftWhenTheDockerfileCantSayIt(t *testing.T) {
	for _, tc := range []struct{ df, why string }{
		{"FROM python:3.12-slim\nRUN [\"pip\", \"install\", \"--no-cache-dir\", \"flask\"]\n", "argv changes outside a shell script"},
		{"FROM debian AS a\nFROM debian\nCOPY --from=0 /etc/hostname /x\nRUN apt-get install -y curl\n", "line 3 names by number"},
	} {
		res := rewriteFile(t, tc.df)
		if len(res.Left) != 1 || !strings.Contains(res.Left[0].Why, tc.why) || res.Changed() {
			t.Errorf("%q: left %+v, changed %v", tc.df, res.Left, res.Changed())
		}
	}
}

// The proof holds with a cache namespace, a scope and another platform:
// the flags' ids leave the namespace to upstream and keep the rest.
func TestProofWithNamespaceScopeAndPlatform(t *testing.T) {
	dt, err := os.ReadFile("testdata/edges.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	opt := plan.Options{Offline: true, Platform: "linux/arm64", Scope: "team-a", BuildArgs: map[string]string{"BUILDKIT_CACHE_MOUNT_NS": "proj"}}
	res, compared, _ := proof(t, "edges.Dockerfile", dt, opt)
	out := string(res.Dockerfile)
	for _, want := range []string{
		"--mount=type=cache,target=/var/cache/apt,id=@team-a/linux/arm64//var/cache/apt,sharing=locked",
		"--mount=type=cache,target=/root/.cache/pip,id=@team-a//root/.cache/pip ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "proj") || compared < 2 {
		t.Errorf("namespace written out, or %d builds compared:\n%s", compared, out)
	}
}
