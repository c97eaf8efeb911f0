package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
)

func makePlan(t *testing.T, file string, opt Options) *Report {
	t.Helper()
	dt, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	opt.Offline = true
	rep, err := Make(context.Background(), dt, opt)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return rep
}

func stepAt(t *testing.T, rep *Report, line int) Step {
	t.Helper()
	for _, s := range rep.Steps {
		if s.Line == line {
			return s
		}
	}
	t.Fatalf("no step at line %d in %+v", line, rep.Steps)
	return Step{}
}

func cacheTargets(s Step) []string {
	var out []string
	for _, m := range s.Mounts {
		if m.Type == "cache" {
			out = append(out, m.Target)
		}
	}
	return out
}

func TestMultiStagePlan(t *testing.T) {
	rep := makePlan(t, "testdata/multistage.Dockerfile", Options{})
	// Every RUN of the target's graph, in Dockerfile order.
	var lines []int
	for _, s := range rep.Steps {
		lines = append(lines, s.Line)
	}
	if want := []int{5, 7, 13, 17, 21, 22, 28}; !slices.Equal(lines, want) {
		t.Fatalf("lines %v, want %v", lines, want)
	}

	gomod := stepAt(t, rep, 5)
	if gomod.Stage != "build" || !slices.Equal(gomod.Managers, []string{"go"}) {
		t.Fatalf("line 5: %+v", gomod)
	}
	if got := cacheTargets(gomod); !slices.Contains(got, "/gomod") {
		t.Errorf("ENV GOMODCACHE not respected: %v", got)
	}

	// The user's own build-cache mount is kept and not doubled.
	build := stepAt(t, rep, 7)
	if got := cacheTargets(build); slices.Contains(got, "/root/.cache/go-build") || !slices.Contains(got, "/gomod") {
		t.Errorf("line 7 caches %v", got)
	}

	pip := stepAt(t, rep, 13)
	if pip.Stage != "tools" || pip.Args[0] != "/bin/bash" || pip.Args[1] != "-o" {
		t.Fatalf("SHELL not kept: %v", pip.Args)
	}
	script := pip.Args[len(pip.Args)-1]
	if strings.Contains(script, "--no-cache-dir") || strings.Contains(script, "pip cache purge") {
		t.Errorf("pip cache defeaters kept: %q", script)
	}
	for _, e := range pip.Env {
		if strings.HasPrefix(e, "PIP_NO_CACHE_DIR=") {
			t.Errorf("PIP_NO_CACHE_DIR kept in the step env")
		}
	}
	if got := cacheTargets(pip); !slices.Equal(got, []string{"/root/.cache/pip", "/root/.cache/pip/wheels"}) {
		t.Errorf("pip caches %v", got)
	}

	apt := stepAt(t, rep, 17)
	if apt.Stage != "2" || !slices.Equal(apt.Managers, []string{"apt"}) {
		t.Fatalf("line 17: %+v", apt)
	}
	if got := cacheTargets(apt); !slices.Equal(got, []string{"/var/cache/apt", "/var/lib/apt/lists"}) {
		t.Errorf("apt caches %v", got)
	}
	// apt's caches are per platform (docs/cache-ids.md); the default platform is this machine's.
	plat := platforms.Format(platforms.Normalize(platforms.DefaultSpec()))
	for _, m := range apt.Mounts {
		if m.Type == "cache" && (m.Sharing != "locked" || m.ID != "/"+plat+"/"+m.Target) {
			t.Errorf("apt cache mount %+v", m)
		}
	}
	if s := apt.Args[2]; strings.Contains(s, "apt-get clean") || strings.Contains(s, "rm -rf /var/lib/apt/lists") ||
		!strings.Contains(s, "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates") {
		t.Errorf("apt script %q", s)
	}

	if echo := stepAt(t, rep, 21); len(echo.Managers) != 0 || len(echo.Mounts) != 0 {
		t.Errorf("an echo argument was taken for a command: %+v", echo)
	}

	heredoc := stepAt(t, rep, 22)
	if !slices.Equal(heredoc.Managers, []string{"npm"}) || !slices.Equal(cacheTargets(heredoc), []string{"/root/.npm"}) {
		t.Errorf("npm inside sh -c inside a heredoc: %+v", heredoc)
	}

	// Line 22's npm cache holds what upstream would have left in the
	// layer: later steps of the stage get it too.
	user := stepAt(t, rep, 28)
	if user.User != "1000:1000" || !slices.Equal(cacheTargets(user), []string{"/home/app/.cache/pip", "/root/.npm"}) {
		t.Fatalf("non-root pip: %+v", user)
	}
	if m := user.Mounts[0]; *m.UID != 1000 || *m.GID != 1000 || m.Follows != "" {
		t.Errorf("non-root cache owned by %d:%d (follows %q)", *m.UID, *m.GID, m.Follows)
	}
	if m := user.Mounts[1]; m.Follows != "line 22" || m.ID != "//root/.npm" {
		t.Errorf("followed npm cache %+v", m)
	}
}

func TestTargetAndNamespace(t *testing.T) {
	rep := makePlan(t, "testdata/multistage.Dockerfile", Options{Target: "tools", BuildArgs: map[string]string{"BUILDKIT_CACHE_MOUNT_NS": "proj"}})
	if len(rep.Steps) != 1 || rep.Steps[0].Stage != "tools" {
		t.Fatalf("target tools: %+v", rep.Steps)
	}
	if id := rep.Steps[0].Mounts[0].ID; id != "proj//root/.cache/pip" && id != "proj/root/.cache/pip" {
		t.Errorf("namespaced id %q", id)
	}
	// Offline too, the built wheels' id names the stage's base image.
	if id := rep.Steps[0].Mounts[1].ID; id != "proj/from:docker.io/library/python:3.12-slim//root/.cache/pip/wheels" {
		t.Errorf("per-image id %q", id)
	}
}

func TestJSONContract(t *testing.T) {
	rep := makePlan(t, "testdata/multistage.Dockerfile", Options{})
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Steps []map[string]json.RawMessage `json:"steps"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, s := range doc.Steps {
		for _, k := range []string{"line", "stage", "managers", "args", "env", "user", "mounts", "notes"} {
			if _, ok := s[k]; !ok {
				t.Fatalf("step lacks %q: %s", k, buf.String())
			}
		}
	}
	if !strings.Contains(buf.String(), `"type": "cache"`) || !strings.Contains(buf.String(), `"readonly": true`) {
		t.Errorf("mount fields missing:\n%s", buf.String())
	}
}

// TestParseErrorHasLine: upstream's error, with the Dockerfile line it
// is on, also where its message doesn't say it.
func TestParseErrorHasLine(t *testing.T) {
	broken, err := os.ReadFile("testdata/broken.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dockerfile []byte
		msg        string
		line       int32
	}{
		{broken, "dockerfile parse error on line 3: unknown instruction: RUNN", 3},
		{[]byte("FROM scratch\nARG EMPTY\nFROM $EMPTY\n"), "base name ($EMPTY) should not be blank", 3},
	} {
		_, err := Make(context.Background(), c.dockerfile, Options{Offline: true, Filename: "my.Dockerfile"})
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Fatalf("err %v, want %q", err, c.msg)
		}
		srcs := errdefs.Sources(err)
		if len(srcs) != 1 || srcs[0].Info.GetFilename() != "my.Dockerfile" || !bytes.Equal(srcs[0].Info.GetData(), c.dockerfile) ||
			len(srcs[0].Ranges) != 1 || srcs[0].Ranges[0].GetStart().GetLine() != c.line {
			t.Errorf("%q: error sources %v, want my.Dockerfile line %d", c.msg, srcs, c.line)
		}
	}
}

// TestCorpus: every real-world Dockerfile goes through plan and the
// transform without an error.
func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob("../pkgmgr/testdata/corpus/*")
	if len(files) < 100 {
		t.Fatalf("corpus has %d files", len(files))
	}
	detected := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			continue
		}
		rep := makePlan(t, f, Options{BuildArgs: corpusArgs})
		for _, s := range rep.Steps {
			if len(s.Mounts) > 0 {
				detected++
			}
		}
	}
	t.Logf("%d corpus files, %d steps given caches", len(files)-1, detected)
	if detected < 100 {
		t.Errorf("only %d corpus steps given caches", detected)
	}
}

// corpusArgs fill in the base-image args that some corpus files leave
// without a default (upstream needs them too: pipenv's `FROM python:${PYVERSION}`).
var corpusArgs = map[string]string{"PYVERSION": "3.12"}

// TestCopyFromKeepsContent: a directory that a COPY --from or a
// RUN --mount=from reads from a stage is not cached in that stage, nor in
// the steps built on it, since the reader would find it empty.
func TestCopyFromKeepsContent(t *testing.T) {
	rep := makePlan(t, "testdata/copyfrom.Dockerfile", Options{})
	if got := cacheTargets(stepAt(t, rep, 4)); slices.Contains(got, "/root/go/pkg/mod") {
		t.Errorf("go mod download caches the module cache that COPY --from=deps reads: %v", got)
	}
	if got := cacheTargets(stepAt(t, rep, 8)); slices.Contains(got, "/root/go/pkg/mod") || !slices.Contains(got, "/root/.cache/go-build") {
		t.Errorf("go build on top of deps: %v", got)
	}
	// The wheels stage is read at /wheels only: pip's cache is still fine there.
	if got := cacheTargets(stepAt(t, rep, 11)); !slices.Equal(got, []string{"/root/.cache/pip", "/root/.cache/pip/wheels"}) {
		t.Errorf("pip wheel: %v", got)
	}
	if got := cacheTargets(stepAt(t, rep, 17)); !slices.Equal(got, []string{"/root/.cache/pip", "/root/.cache/pip/wheels"}) {
		t.Errorf("final pip install: %v", got)
	}
	note := strings.Join(stepAt(t, rep, 4).Notes, "\n")
	if !strings.Contains(note, "/root/go/pkg/mod") {
		t.Errorf("no note says why: %s", note)
	}
}

func TestCachedByStage(t *testing.T) {
	cache := func(target string) Mount { return Mount{Type: "cache", Target: target} }
	bind := Mount{Type: "bind", Target: "/etc/apt/apt.conf.d/docker-clean", Readonly: true}
	for _, tc := range []struct {
		name  string
		steps []Step
		want  []Stage
	}{
		{"no steps", nil, []Stage{}},
		{"a step without caches still lists its stage",
			[]Step{{Stage: "build"}},
			[]Stage{{Stage: "build", Cached: []string{}}}},
		{"binds of generated files are not cache-backed",
			[]Step{{Stage: "0", Mounts: []Mount{bind, cache("/var/cache/apt")}}},
			[]Stage{{Stage: "0", Cached: []string{"/var/cache/apt"}}}},
		{"union over the stage's steps, sorted, once each",
			[]Step{
				{Stage: "build", Mounts: []Mount{cache("/root/.npm")}},
				{Stage: "build", Mounts: []Mount{cache("/go/pkg/mod"), cache("/root/.npm")}},
			},
			[]Stage{{Stage: "build", Cached: []string{"/go/pkg/mod", "/root/.npm"}}}},
		{"stages in the order of their first step",
			[]Step{
				{Stage: "tools", Mounts: []Mount{cache("/root/.cache/pip")}},
				{Stage: "build", Mounts: []Mount{cache("/root/.npm")}},
				{Stage: "tools", Mounts: []Mount{cache("/var/cache/apt")}},
			},
			[]Stage{
				{Stage: "tools", Cached: []string{"/root/.cache/pip", "/var/cache/apt"}},
				{Stage: "build", Cached: []string{"/root/.npm"}},
			}},
	} {
		got := cachedByStage(tc.steps)
		if !slices.EqualFunc(got, tc.want, func(a, b Stage) bool { return a.Stage == b.Stage && slices.Equal(a.Cached, b.Cached) }) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestStagesOfMultiStagePlan(t *testing.T) {
	rep := makePlan(t, "testdata/multistage.Dockerfile", Options{})
	want := []Stage{
		{Stage: "build", Cached: []string{"/gomod"}}, // not the user's own /root/.cache/go-build
		{Stage: "tools", Cached: []string{"/root/.cache/pip"}},
		{Stage: "2", Cached: []string{"/home/app/.cache/pip", "/root/.npm", "/var/cache/apt", "/var/lib/apt/lists"}},
	}
	if !slices.EqualFunc(rep.Stages, want, func(a, b Stage) bool { return a.Stage == b.Stage && slices.Equal(a.Cached, b.Cached) }) {
		t.Fatalf("stages %+v", rep.Stages)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text, "Dockerfile"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "    [2]  /home/app/.cache/pip  /root/.npm  /var/cache/apt  /var/lib/apt/lists\n") {
		t.Fatalf("text:\n%s", text.String())
	}
}

// plan converts with the daemon's LLB capabilities, as the frontend gets
// them: COPY --link is a merge, and a read-write bind converts (without
// capabilities upstream's conversion dereferences nil for it).
func TestConvertsWithTheDaemonsCapabilities(t *testing.T) {
	df := "FROM golang:1.26 AS build\nRUN --mount=type=bind,rw,target=/src go build ./...\nFROM debian\nCOPY --link --from=build /go/bin /bin\n"
	def, err := Convert(context.Background(), []byte(df), Options{Offline: true, Target: "build"})
	if err != nil {
		t.Fatal(err)
	}
	if len(def.Def) == 0 {
		t.Fatal("empty definition")
	}
	def, err = Convert(context.Background(), []byte(df), Options{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	merge := false
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.Unmarshal(dt); err != nil {
			t.Fatal(err)
		}
		merge = merge || op.GetMerge() != nil
	}
	if !merge {
		t.Fatal("COPY --link is not a merge")
	}
}
