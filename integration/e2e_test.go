//go:build e2e

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// A fixture is a project that installs packages 1…n of one manager the way
// real Dockerfiles do.
type fixture struct {
	name  string
	kind  string                                                  // counter key in /stats
	files func(t *testing.T, e *engine, dir string, n int) string // writes the project, returns the Dockerfile body
	// cached are the directories autocache mounts caches over; the image may
	// differ from upstream's inside them (their contents stay out of it).
	cached []string
	// volatile are files of this fixture's image that differ between any
	// two builds (added to the global volatile list).
	volatile []string
}

func pkgs(n int, format string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i+1)
	}
	return out
}

func writeFile(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return string(b)
}

var fixtures = []fixture{
	{
		name: "apt", kind: "apt",
		files: func(t *testing.T, e *engine, dir string, n int) string {
			return aptDockerfile("bookworm", n)
		},
		cached: []string{"/var/cache/apt", "/var/lib/apt/lists"},
	},
	{
		name: "pip", kind: "pip",
		files: func(t *testing.T, e *engine, dir string, n int) string {
			writeFile(t, dir, "requirements.txt", strings.Join(pkgs(n, "acpkg-%03d==1.0.0"), "\n")+"\n")
			return "FROM python:3.11-slim\nARG E2E_RUN\nWORKDIR /app\nCOPY requirements.txt .\n" +
				"RUN pip install --no-cache-dir -r requirements.txt\n"
		},
		cached: []string{"/root/.cache/pip"},
	},
	{
		name: "npm", kind: "npm",
		files: func(t *testing.T, e *engine, dir string, n int) string {
			deps := map[string]string{}
			lockPkgs := map[string]any{}
			for _, p := range pkgs(n, "acpkg-%03d") {
				var doc struct {
					Versions map[string]struct {
						Dist struct{ Tarball, Integrity string }
					}
				}
				getJSON(t, e.pkgserver+"/npm/"+p, &doc)
				v := doc.Versions["1.0.0"]
				deps[p] = "1.0.0"
				lockPkgs["node_modules/"+p] = map[string]any{"version": "1.0.0", "resolved": v.Dist.Tarball, "integrity": v.Dist.Integrity}
			}
			lockPkgs[""] = map[string]any{"name": "e2e-app", "version": "1.0.0", "dependencies": deps}
			pj, _ := json.MarshalIndent(map[string]any{"name": "e2e-app", "version": "1.0.0", "private": true, "dependencies": deps}, "", "  ")
			lock, _ := json.MarshalIndent(map[string]any{"name": "e2e-app", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": lockPkgs}, "", "  ")
			writeFile(t, dir, "package.json", string(pj)+"\n")
			writeFile(t, dir, "package-lock.json", string(lock)+"\n")
			return "FROM node:18-slim\nARG E2E_RUN\nWORKDIR /app\nCOPY package.json package-lock.json ./\nRUN npm ci\n"
		},
		cached: []string{"/root/.npm"},
	},
	{
		name: "go", kind: "go",
		files: func(t *testing.T, e *engine, dir string, n int) string {
			mods := pkgs(n, "acpkg.test/m%03d")
			var mod, imports, q strings.Builder
			mod.WriteString("module e2e.test/app\n\ngo 1.26\n\nrequire (\n")
			for _, m := range mods {
				fmt.Fprintf(&mod, "\t%s v1.0.0\n", m)
				fmt.Fprintf(&imports, "\t_ %q\n", m)
				fmt.Fprintf(&q, "&m=%s", m)
			}
			mod.WriteString(")\n")
			writeFile(t, dir, "go.mod", mod.String())
			writeFile(t, dir, "go.sum", getText(t, e.pkgserver+"/goproxy/sumlines?"+q.String()[1:]))
			writeFile(t, dir, "main.go", "package main\n\nimport (\n"+imports.String()+")\n\nfunc main() {}\n")
			return "FROM golang:1.26\nARG E2E_RUN\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\n" +
				"COPY main.go .\nRUN CGO_ENABLED=0 go build -o /usr/local/bin/app .\n"
		},
		cached: []string{"/go/pkg/mod", "/root/.cache/go-build"},
	},
}

// volatile files differ between any two builds of the same Dockerfile
// (timestamps inside logs and bytecode, the Go toolchain's local telemetry
// counters), so only their type, mode and owner are compared. Also V8 code
// caches: yarn 1 and pnpm keep one of their own bundled JavaScript in
// $TMPDIR/v8-compile-cache-<uid> (the v8-compile-cache package); V8 compiles
// lazily, so its bytes record which functions ran, and a cold install
// (downloads) and a warm one (cache hits) run different ones. V8 checks the
// blob against the source before using it.
var volatile = []string{"/var/log", "*.pyc", "/var/cache/debconf", "/var/cache/ldconfig/aux-cache", "/root/.config/go/telemetry",
	"/tmp/v8-compile-cache-0"}

// TestRebuildDownloadsOnlyTheNewPackage is the core promise: after adding one
// dependency, a rebuild with autocache downloads one package file, and the
// same Dockerfile with the upstream frontend downloads all 48. The rebuilt
// images are the same outside the cached directories.
func TestRebuildDownloadsOnlyTheNewPackage(t *testing.T) {
	e := newEngine(t)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) { testRebuild(t, e, fx) })
	}
}

// testRebuild builds fx with 47 then 48 packages, upstream and through
// autocache (in a cache-mount namespace of this run): upstream downloads 47
// then 48, autocache 47 then 1, and the rebuilt images are the same outside
// fx.cached.
func testRebuild(t *testing.T, e *engine, fx fixture) {
	t.Helper()
	tars := map[string]string{}
	for _, mode := range []string{upstream, viaSyntax} {
		dir := t.TempDir()
		args := map[string]string{"E2E_RUN": e.runID, "BUILDKIT_CACHE_MOUNT_NS": "e2e-" + e.runID}
		step := func(n int, out string) int {
			writeDockerfile(t, e, dir, mode, fx.files(t, e, dir, n))
			before := e.counts(t)[fx.kind]
			if _, err := e.build(t, buildSpec{dir: dir, mode: mode, args: args, tarOut: out}); err != nil {
				t.Fatalf("%s build with %d packages failed: %v", mode, n, err)
			}
			return e.counts(t)[fx.kind] - before
		}
		cold := step(47, "")
		tars[mode] = filepath.Join(t.TempDir(), "image.tar")
		rebuild := step(48, tars[mode])
		t.Logf("%s %s: cold build downloaded %d, rebuild after adding one downloaded %d", fx.name, mode, cold, rebuild)
		if cold != 47 {
			t.Errorf("%s cold build downloaded %d package files, want 47", mode, cold)
		}
		want := 48
		if mode == viaSyntax {
			want = 1
		}
		if rebuild != want {
			t.Errorf("%s rebuild downloaded %d package files, want %d", mode, rebuild, want)
		}
	}
	excused := compareImages(t, tars[upstream], tars[viaSyntax], fx.cached, append(fx.volatile, volatile...))
	t.Logf("differences inside cached directories (%d), e.g.:\n  %s", len(excused), strings.Join(excused[:min(len(excused), 10)], "\n  "))
	if fx.name == "apt" {
		a, b := readTar(t, tars[upstream]), readTar(t, tars[viaSyntax])
		dc := "/etc/apt/apt.conf.d/docker-clean"
		if a[dc].SHA256 == "" || a[dc] != b[dc] {
			t.Errorf("docker-clean changed: upstream %v, autocache %v", a[dc], b[dc])
		}
	}
}

// TestSameResultThroughEveryEntryPoint builds one Dockerfile through
// `# syntax=`, gateway.v0 and BUILDKIT_SYNTAX: autocache runs each time
// (its result metadata says so) and the images are the same.
func TestSameResultThroughEveryEntryPoint(t *testing.T) {
	e := newEngine(t)
	fx := fixtures[1] // pip
	tars := map[string]string{}
	for _, mode := range []string{viaSyntax, viaGateway, viaBuildkitSx} {
		dir := t.TempDir()
		writeDockerfile(t, e, dir, mode, fx.files(t, e, dir, 5))
		tars[mode] = filepath.Join(t.TempDir(), "image.tar")
		meta := filepath.Join(t.TempDir(), "meta.json")
		if _, err := e.build(t, buildSpec{dir: dir, mode: mode, args: map[string]string{"E2E_RUN": e.runID}, tarOut: tars[mode], meta: meta}); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		var md map[string]any
		b, _ := os.ReadFile(meta)
		_ = json.Unmarshal(b, &md)
		if _, ok := md["frontend.autocache.steps"]; !ok {
			t.Errorf("%s: autocache did not run (metadata %s)", mode, b)
		}
	}
	compareImages(t, tars[viaSyntax], tars[viaGateway], nil, volatile)
	compareImages(t, tars[viaSyntax], tars[viaBuildkitSx], nil, volatile)
}

// TestConcurrentBuildsShareTheAptCache runs four apt builds at once on one
// cache; the locked sharing mode must let all of them finish.
func TestConcurrentBuildsShareTheAptCache(t *testing.T) {
	e := newEngine(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	before := e.counts(t)["apt"]
	for i := range 4 {
		dir := t.TempDir()
		// Overlapping package sets, so the builds really share archives.
		names := pkgs(60, "acpkg-%03d")[49+i*2 : 49+i*2+4]
		writeDockerfile(t, e, dir, viaSyntax, "FROM debian:bookworm-slim\nARG E2E_RUN\n"+
			"RUN apt-get update && apt-get install -y "+strings.Join(names, " ")+" && rm -rf /var/lib/apt/lists/*\n")
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.build(t, buildSpec{dir: dir, mode: viaSyntax, args: map[string]string{
				"E2E_RUN": fmt.Sprintf("%s-%d", e.runID, i), "BUILDKIT_CACHE_MOUNT_NS": "e2e-concurrent-" + e.runID}})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("build %d failed: %v", i, err)
		}
	}
	// 10 distinct packages; with the shared cache each is downloaded at most once per build that needs it, usually once.
	if got := e.counts(t)["apt"] - before; got > 16 || got < 10 {
		t.Errorf("concurrent builds downloaded %d .debs, want between 10 and 16", got)
	}
}

// TestErrorsMatchUpstream: a broken Dockerfile fails with upstream's message and line.
func TestErrorsMatchUpstream(t *testing.T) {
	e := newEngine(t)
	body := "FROM debian:bookworm-slim\nRUN apt-get update\nRUNN apt-get install -y acpkg-001\n"
	outs := map[string]string{}
	for _, mode := range []string{upstream, viaSyntax, viaGateway} {
		dir := t.TempDir()
		writeDockerfile(t, e, dir, mode, body)
		out, err := e.build(t, buildSpec{dir: dir, mode: mode})
		if err == nil {
			t.Fatalf("%s: broken Dockerfile built", mode)
		}
		outs[mode] = errorLines(out)
	}
	if !strings.Contains(outs[upstream], "Dockerfile:4") || !strings.Contains(outs[upstream], "unknown instruction: RUNN") {
		t.Fatalf("unexpected upstream error:\n%s", outs[upstream])
	}
	for _, mode := range []string{viaSyntax, viaGateway} {
		if outs[mode] != outs[upstream] {
			t.Errorf("%s error differs from upstream:\n--- upstream\n%s\n--- %s\n%s", mode, outs[upstream], mode, outs[mode])
		}
	}
}

// errorLines keeps the lines of buildctl's output that describe the error:
// the Dockerfile excerpt and the message (progress lines vary by frontend).
func errorLines(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "Dockerfile:") || strings.HasPrefix(l, "error:") || strings.Contains(l, "unknown instruction") {
			if i := strings.Index(l, "failed to solve: "); i >= 0 {
				l = l[i:]
			}
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestOptOut: --build-arg AUTOCACHE=off gives upstream's behaviour.
func TestOptOut(t *testing.T) {
	e := newEngine(t)
	fx := fixtures[1] // pip
	dir := t.TempDir()
	args := map[string]string{"E2E_RUN": e.runID + "-off", "AUTOCACHE": "off"}
	var got []int
	for _, n := range []int{47, 48} {
		writeDockerfile(t, e, dir, viaSyntax, fx.files(t, e, dir, n))
		before := e.counts(t)["pip"]
		if _, err := e.build(t, buildSpec{dir: dir, mode: viaSyntax, args: args}); err != nil {
			t.Fatal(err)
		}
		got = append(got, e.counts(t)["pip"]-before)
	}
	if got[0] != 47 || got[1] != 48 {
		t.Errorf("with AUTOCACHE=off the builds downloaded %v, want [47 48]", got)
	}
}
