package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestPlanJSONFromStdin(t *testing.T) {
	df := "FROM python:3.11-slim\nRUN pip install --no-cache-dir flask\n"
	code, out, errs := runCLI(t, df, "plan", "--offline", "--format", "json", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep struct {
		Steps []struct {
			Line     int
			Managers []string
			Args     []string
			Mounts   []struct{ Type, Target, ID, Sharing string }
		}
		Caches []struct {
			ID       string
			Seed     bool
			Mode     string
			Managers []string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.Steps) != 1 || rep.Steps[0].Line != 2 || rep.Steps[0].Managers[0] != "pip" {
		t.Fatalf("%+v", rep)
	}
	if m := rep.Steps[0].Mounts[0]; m.Target != "/root/.cache/pip" || m.ID != "//root/.cache/pip" || m.Sharing != "shared" {
		t.Fatalf("mount %+v", m)
	}
	if got := rep.Steps[0].Args[2]; got != "pip install flask" {
		t.Fatalf("args %q", got)
	}
	if len(rep.Caches) != 2 || rep.Caches[0].ID != "//root/.cache/pip" || rep.Caches[0].Seed || rep.Caches[0].Mode != "0755" || rep.Caches[0].Managers[0] != "pip" {
		t.Fatalf("caches %+v", rep.Caches)
	}
}

func TestPlanTextFromDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/Dockerfile", []byte("FROM node:18-slim\nWORKDIR /app\nRUN npm ci\nRUN npm run build\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "", "plan", "--offline", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "Dockerfile:3") || !strings.Contains(out, "+ cache /root/.npm") || !strings.Contains(out, "1 of 2 RUN steps") {
		t.Fatalf("text output:\n%s", out)
	}
}

func TestPlanParseErrorExitsNonZeroWithLine(t *testing.T) {
	for _, c := range []struct{ dockerfile, msg string }{
		{"FROM debian\nRUN true\nRUNN apt-get install x\n", "unknown instruction: RUNN"},
		{"FROM scratch\nARG EMPTY\nFROM $EMPTY\n", "base name ($EMPTY) should not be blank"}, // no line in the message
	} {
		code, _, errs := runCLI(t, c.dockerfile, "plan", "--offline", "-")
		if code == 0 {
			t.Fatal("broken Dockerfile planned")
		}
		if !strings.Contains(errs, "autocache plan: Dockerfile:3: ") || !strings.Contains(errs, c.msg) || !strings.Contains(errs, " 3 | >>> ") {
			t.Errorf("stderr:\n%s", errs)
		}
	}
}

func TestPlanOptOutAndManagers(t *testing.T) {
	df := "FROM debian\nRUN apt-get update && apt-get install -y curl && pip install x\n"
	_, out, _ := runCLI(t, df, "plan", "--offline", "--format", "json", "--build-arg", "AUTOCACHE=off", "-")
	if strings.Contains(out, `"type": "cache"`) || !strings.Contains(out, `"cached": []`) {
		t.Fatalf("AUTOCACHE=off still plans caches:\n%s", out)
	}
	_, out, _ = runCLI(t, df, "plan", "--offline", "--format", "json", "--build-arg", "AUTOCACHE_MANAGERS=pip", "-")
	if strings.Contains(out, "/var/cache/apt") || !strings.Contains(out, "/root/.cache/pip") {
		t.Fatalf("AUTOCACHE_MANAGERS=pip:\n%s", out)
	}
}

func TestUsage(t *testing.T) {
	if code, _, _ := runCLI(t, ""); code != 2 {
		t.Fatal("no command should exit 2")
	}
	if code, _, _ := runCLI(t, "", "plan", "--format", "yaml", "-"); code != 2 {
		t.Fatal("bad format should exit 2")
	}
}

func TestPlanScopeAndStages(t *testing.T) {
	df := "FROM debian AS base\nRUN apt-get install -y curl\nFROM python:3.11-slim\nRUN pip install flask\nRUN make\n"
	code, out, errs := runCLI(t, df, "plan", "--offline", "--format", "json", "--platform", "linux/arm64",
		"--build-arg", "AUTOCACHE_SCOPE=team-a", "--target", "base", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep struct {
		Steps []struct {
			Mounts []struct{ Type, Target, ID string }
		}
		Stages []struct {
			Stage  string
			Cached []string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if m := rep.Steps[0].Mounts[0]; m.Target != "/var/cache/apt" || m.ID != "/@team-a/linux/arm64//var/cache/apt" {
		t.Fatalf("mount %+v", m)
	}
	if len(rep.Stages) != 1 || rep.Stages[0].Stage != "base" || len(rep.Stages[0].Cached) != 1 || rep.Stages[0].Cached[0] != "/var/cache/apt" {
		t.Fatalf("stages %+v", rep.Stages)
	}

	// The same validation as the frontend: the build-arg is named.
	code, _, errs = runCLI(t, df, "plan", "--offline", "--build-arg", "AUTOCACHE_SCOPE=a/b", "-")
	if code != 2 || !strings.Contains(errs, "AUTOCACHE_SCOPE") {
		t.Fatalf("exit %d: %s", code, errs)
	}

	code, out, errs = runCLI(t, df, "plan", "--offline", "-")
	if code != 0 || !strings.Contains(out, "Cache-backed directories") || !strings.Contains(out, "    [1]  /root/.cache/pip\n") {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
}

func TestPlanHonoursTheDockerfilesSettings(t *testing.T) {
	df := "# autocache=managers=pip\nFROM debian\nRUN apt-get update && apt-get install -y python3-pip\n# autocache: off\nRUN pip install x\n" +
		"FROM python:3.11-slim\nCOPY --from=0 /etc/hostname /x\nRUN pip install y\n"
	code, out, errs := runCLI(t, df, "plan", "--offline", "--format", "json", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep struct {
		Steps []struct {
			Line   int
			Mounts []struct{ Target string }
			Notes  []string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) != 3 || len(rep.Steps[0].Mounts) != 0 || len(rep.Steps[1].Mounts) != 0 || len(rep.Steps[2].Mounts) == 0 {
		t.Fatalf("apt (not in the directive's list) and the step under `# autocache: off` must be left alone:\n%s", out)
	}
	if !strings.Contains(strings.Join(rep.Steps[1].Notes, "\n"), "left alone: `# autocache: off` on line 4") {
		t.Fatalf("notes %q", rep.Steps[1].Notes)
	}
	code, out, errs = runCLI(t, "# autocache=off\n"+df[strings.Index(df, "\n")+1:], "plan", "--offline", "--format", "json", "-")
	if code != 0 || strings.Contains(out, `"type": "cache"`) || !strings.Contains(errs, "`# autocache=off` on line 1: the frontend changes nothing") {
		t.Fatalf("exit %d, stderr %q:\n%s", code, errs, out)
	}
}

func TestPlanTextShowsStepsLeftAlone(t *testing.T) {
	code, out, errs := runCLI(t, "FROM python:3.12-slim\n# autocache: off\nRUN pip install x\n", "plan", "--offline", "-")
	if code != 0 || !strings.Contains(out, "Dockerfile:3  [0]  (left alone)\n    · left alone: `# autocache: off` on line 2\n") {
		t.Fatalf("exit %d, %q:\n%s", code, errs, out)
	}
}

func TestPlanBadSettingExitsNonZeroWithLine(t *testing.T) {
	code, _, errs := runCLI(t, "# autocache=managers=apt,ppi\nFROM debian\nRUN true\n", "plan", "--offline", "-")
	if code != 1 || !strings.Contains(errs, "Dockerfile:1: autocache: `# autocache=managers=apt,ppi`: unknown package manager \"ppi\"") ||
		!strings.Contains(errs, ">>> # autocache=managers=apt,ppi") {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
}

func TestRewriteDiffCheckAndWrite(t *testing.T) {
	dir := t.TempDir()
	df := "FROM python:3.12-slim\n# dependencies\nRUN pip install --no-cache-dir flask\n"
	file := dir + "/Dockerfile"
	if err := os.WriteFile(file, []byte(df), 0o640); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "", "rewrite", "--offline", dir)
	if code != 0 || !strings.Contains(out, "-RUN pip install --no-cache-dir flask\n+RUN --mount=type=cache,target=/root/.cache/pip ") ||
		!strings.Contains(out, "+++ "+file+" (autocache rewrite)") {
		t.Fatalf("exit %d, stderr %q, diff:\n%s", code, errs, out)
	}
	if code, _, errs := runCLI(t, "", "rewrite", "--offline", "--check", file); code != 1 || !strings.Contains(errs, "would change: autocache adds to 1 RUN step(s)") {
		t.Fatalf("--check on a file that would change: exit %d, %q", code, errs)
	}
	if code, _, errs := runCLI(t, "", "rewrite", "--offline", "-w", file); code != 0 {
		t.Fatalf("-w: exit %d, %q", code, errs)
	}
	got, err := os.ReadFile(file)
	fi, _ := os.Stat(file)
	if err != nil || !strings.Contains(string(got), "# dependencies\nRUN --mount=type=cache,target=/root/.cache/pip") || fi.Mode().Perm() != 0o640 {
		t.Fatalf("written (%v, %v):\n%s", fi.Mode(), err, got)
	}
	if code, out, errs := runCLI(t, "", "rewrite", "--offline", "--check", file); code != 0 || out != "" {
		t.Fatalf("--check after -w: exit %d, %q, %q", code, out, errs)
	}
}

func TestRewriteReportsWhatItLeaves(t *testing.T) {
	code, _, errs := runCLI(t, "FROM python:3.12-slim\nRUN [\"pip\", \"install\", \"--no-cache-dir\", \"flask\"]\n", "rewrite", "--offline", "-")
	if code != 0 || !strings.Contains(errs, "Dockerfile:2: left as it is: line 2: the step's argv changes outside a shell script") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if code, _, errs := runCLI(t, "FROM x\nRUN true\n", "rewrite", "-w", "-"); code != 2 {
		t.Fatalf("-w with stdin: exit %d, %q", code, errs)
	}
	if code, _, errs := runCLI(t, "# autocache: of\nFROM x\n", "rewrite", "--offline", "-"); code != 1 || !strings.Contains(errs, "Dockerfile:1: autocache:") {
		t.Fatalf("bad setting: exit %d, %q", code, errs)
	}
}

// --format cachemap is a buildkit-cache-dance v3 cache-map: one entry per
// cache, keyed by a stable directory name, with only mount options (uid
// and gid only for a non-root step's seeded cache).
func TestPlanCacheMap(t *testing.T) {
	df := "FROM python:3.11-slim\nRUN pip install flask\nRUN apt-get update && apt-get install -y curl\n" +
		"USER 1000:1000\nENV HOME=/home/app\nRUN npm ci\n"
	code, out, errs := runCLI(t, df, "plan", "--offline", "--platform", "linux/arm64", "--format", "cachemap", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var m map[string]map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	byID := map[string]map[string]any{}
	for dir, e := range m {
		id, _ := e["id"].(string)
		if strings.ContainsAny(dir, "/:") || dir == "" {
			t.Errorf("directory %q is not a plain name", dir)
		}
		byID[id] = e
	}
	pip := byID["/root/.cache/pip"]
	if pip == nil || pip["target"] != "/root/.cache/pip" || pip["sharing"] != "shared" || pip["uid"] != nil {
		t.Errorf("pip entry %v (all: %s)", pip, out)
	}
	apt := byID["linux/arm64//var/cache/apt"]
	if apt == nil || apt["sharing"] != "locked" {
		t.Errorf("apt entry %v (all: %s)", apt, out)
	}
	npm := byID["/home/app/.npm"]
	if npm == nil || npm["uid"] != 1000.0 || npm["gid"] != 1000.0 {
		t.Errorf("npm entry %v (all: %s)", npm, out)
	}
	// The same Dockerfile gives the same map.
	if _, out2, _ := runCLI(t, df, "plan", "--offline", "--platform", "linux/arm64", "--format", "cachemap", "-"); out2 != out {
		t.Errorf("cache map not stable:\n%s\n%s", out, out2)
	}
}

// Bad input to autocache cache is a clear error before any builder is
// contacted; an unreachable builder is named.
func TestCacheBadInput(t *testing.T) {
	dir := t.TempDir()
	notMeta := dir + "/meta.json"
	os.WriteFile(notMeta, []byte(`{"containerimage.digest":"sha256:00"}`), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"cache"}, 2, "usage: autocache cache export"},
		{[]string{"cache", "export"}, 2, "missing --to DEST"},
		{[]string{"cache", "import"}, 2, "missing --from SRC"},
		{[]string{"cache", "export", "--to", dir, "--max-size", "lots"}, 2, `--max-size: "lots" is not a size`},
		{[]string{"cache", "export", "--to", dir, "--target", "build"}, 2, "go with --dockerfile"},
		{[]string{"cache", "export", "--to", dir, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"cache", "export", "--to", dir, "--metadata-file", dir + "/none.json"}, 1, "no such file"},
		{[]string{"cache", "export", "--to", dir, "--metadata-file", notMeta}, 1, "no frontend.autocache.caches in it"},
		{[]string{"cache", "export", "--to", dir, "--dockerfile", dir + "/none"}, 1, "no such file"},
		{[]string{"cache", "import", "--from", dir, "--addr", "unix://" + dir + "/no.sock"}, 1, "the builder went away or cannot be reached (unix://" + dir + "/no.sock)"},
		{[]string{"cache", "import", "--from", dir, "--addr", "tcp://127.0.0.1:1", "--tlsdir", dir}, 1, "--tlsdir " + dir + " has none of ca.pem, ca.crt"},
	} {
		code, _, errs := runCLI(t, "", tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d with %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}
