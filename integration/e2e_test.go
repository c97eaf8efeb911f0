//go:build e2e

package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	// filesOf does the same with the packages numbered nums (core fixtures).
	filesOf func(t *testing.T, e *engine, dir string, nums []int) string
	// cached are the directories autocache mounts caches over; the image may
	// differ from upstream's inside them (their contents stay out of it).
	cached []string
	// volatile are files of this fixture's image that differ between any
	// two builds (added to the global volatile list).
	volatile []string
}

func pkgs(n int, format string) []string {
	return pkgsOf(upTo(n), format)
}

// upTo is the package numbers 1…n.
func upTo(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// pkgsOf names the numbered packages.
func pkgsOf(nums []int, format string) []string {
	out := make([]string, len(nums))
	for i, n := range nums {
		out[i] = fmt.Sprintf(format, n)
	}
	return out
}

// coreFixture is a fixture of the four core managers, whose projects can
// name any set of the numbered packages (filesOf), not only the first n.
func coreFixture(name string, cached []string, filesOf func(t *testing.T, e *engine, dir string, nums []int) string) fixture {
	return fixture{name: name, kind: name, cached: cached, filesOf: filesOf,
		files: func(t *testing.T, e *engine, dir string, n int) string { return filesOf(t, e, dir, upTo(n)) }}
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
	coreFixture("apt", []string{"/var/cache/apt", "/var/lib/apt/lists"}, func(t *testing.T, e *engine, dir string, nums []int) string {
		return aptDockerfileOf("bookworm", nums)
	}),
	coreFixture("pip", []string{"/root/.cache/pip"}, func(t *testing.T, e *engine, dir string, nums []int) string {
		writeFile(t, dir, "requirements.txt", strings.Join(pkgsOf(nums, "acpkg-%03d==1.0.0"), "\n")+"\n")
		return "FROM python:3.11-slim\nARG E2E_RUN\nWORKDIR /app\nCOPY requirements.txt .\n" +
			"RUN pip install --no-cache-dir -r requirements.txt\n"
	}),
	coreFixture("npm", []string{"/root/.npm"}, func(t *testing.T, e *engine, dir string, nums []int) string {
		deps := map[string]string{}
		lockPkgs := map[string]any{}
		for _, p := range pkgsOf(nums, "acpkg-%03d") {
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
	}),
	coreFixture("go", []string{"/go/pkg/mod", "/root/.cache/go-build"}, func(t *testing.T, e *engine, dir string, nums []int) string {
		mods := pkgsOf(nums, "acpkg.test/m%03d")
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
	}),
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
// images are the same outside the cached directories, and have the same
// config and history.
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
	tars, ocis := map[string]string{}, map[string]string{}
	for _, mode := range []string{upstream, viaSyntax} {
		dir := t.TempDir()
		args := map[string]string{"E2E_RUN": e.runID, "BUILDKIT_CACHE_MOUNT_NS": "e2e-" + e.runID}
		step := func(n int, out string) int {
			writeDockerfile(t, e, dir, mode, fx.files(t, e, dir, n))
			before := e.counts(t)[fx.kind]
			oci := ""
			if out != "" {
				oci = out + ".oci"
				ocis[mode] = oci
			}
			if _, err := e.build(t, buildSpec{dir: dir, mode: mode, args: args, tarOut: out, ociOut: oci}); err != nil {
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
	compareConfigs(t, ocis[upstream], ocis[viaSyntax])
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
// `# syntax=`, gateway.v0 and BUILDKIT_SYNTAX: autocache rewrites a step
// each time (its result metadata says so), and each image is upstream's
// (files outside the caches, config and history).
func TestSameResultThroughEveryEntryPoint(t *testing.T) {
	e := newEngine(t)
	fx := fixtures[1] // pip
	tars, ocis := map[string]string{}, map[string]string{}
	for _, mode := range []string{upstream, viaSyntax, viaGateway, viaBuildkitSx} {
		dir := t.TempDir()
		writeDockerfile(t, e, dir, mode, fx.files(t, e, dir, 5))
		tars[mode] = filepath.Join(t.TempDir(), "image.tar")
		ocis[mode] = tars[mode] + ".oci"
		meta := filepath.Join(t.TempDir(), "meta.json")
		if _, err := e.build(t, buildSpec{dir: dir, mode: mode, args: map[string]string{"E2E_RUN": e.runID}, tarOut: tars[mode], ociOut: ocis[mode], meta: meta}); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		var md map[string]any
		b, err := os.ReadFile(meta)
		if err == nil {
			err = json.Unmarshal(b, &md)
		}
		if err != nil {
			t.Fatalf("%s: metadata file: %v", mode, err)
		}
		steps := metaInt(md, "frontend.autocache.steps")
		if mode == upstream && steps >= 0 || mode != upstream && steps < 1 { // -1: none
			t.Errorf("%s: frontend.autocache.steps is %d (metadata %s)", mode, steps, b)
		}
	}
	for _, mode := range []string{viaSyntax, viaGateway, viaBuildkitSx} {
		t.Run(mode, func(t *testing.T) {
			compareImages(t, tars[upstream], tars[mode], fx.cached, volatile)
			compareConfigs(t, ocis[upstream], ocis[mode])
		})
	}
}

// TestConcurrentBuildsDownloadEachPackageOnce: after one build with five
// packages, eight builds at once on one builder, each adding a different
// sixth package to the same cached step (apt's locked caches, pip's, npm's
// and go's shared ones): together they download exactly the eight new
// packages, each image has its own, and a last build with all thirteen
// downloads nothing. Without a shared cache they would download 48.
func TestConcurrentBuildsDownloadEachPackageOnce(t *testing.T) {
	e := newEngine(t)
	base := []int{1, 2, 3, 4, 5}
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			args := map[string]string{"E2E_RUN": e.runID, "BUILDKIT_CACHE_MOUNT_NS": "e2e-concurrent-" + e.runID}
			build := func(nums []int, out string) error {
				dir := t.TempDir()
				writeDockerfile(t, e, dir, viaSyntax, fx.filesOf(t, e, dir, nums))
				_, err := e.build(t, buildSpec{dir: dir, mode: viaSyntax, args: args, tarOut: out})
				return err
			}
			if err := build(base, ""); err != nil {
				t.Fatalf("warm-up build: %v", err)
			}
			before := e.counts(t)[fx.kind]
			var wg sync.WaitGroup
			errs, tars := make([]error, 8), make([]string, 8)
			for i := range 8 {
				tars[i] = filepath.Join(t.TempDir(), "image.tar")
				wg.Go(func() { errs[i] = build(append(slices.Clone(base), 6+i), tars[i]) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("build %d of 8 failed: %v", i, err)
				}
			}
			if got := e.counts(t)[fx.kind] - before; got != 8 {
				t.Errorf("8 concurrent builds, each with one new package, downloaded %d package files, want 8", got)
			}
			for i, tar := range tars {
				if !holdsPackage(t, tar, fx.kind, 6+i) {
					t.Errorf("build %d's image lacks its package %d", i, 6+i)
				}
			}
			before = e.counts(t)[fx.kind]
			if err := build(upTo(13), ""); err != nil {
				t.Fatalf("build with all 13 packages: %v", err)
			}
			if got := e.counts(t)[fx.kind] - before; got != 0 {
				t.Errorf("the build with all 13 packages downloaded %d package files, want 0", got)
			}
		})
	}
}

// holdsPackage reports whether an exported image has the numbered test
// package of a core manager installed (go: linked into the program).
func holdsPackage(t *testing.T, tarFile, kind string, num int) bool {
	t.Helper()
	if kind == "go" {
		bin := tarFiles(t, tarFile, "/usr/local/bin/app")["/usr/local/bin/app"]
		return strings.Contains(bin, fmt.Sprintf("acpkg.test/m%03d", num))
	}
	want := map[string]string{
		"apt": fmt.Sprintf("/usr/share/acpkg/acpkg-%03d/payload", num),
		"pip": fmt.Sprintf("/acpkg_%03d/__init__.py", num),
		"npm": fmt.Sprintf("/app/node_modules/acpkg-%03d/package.json", num),
	}[kind]
	for p := range readTar(t, tarFile) {
		if strings.HasSuffix(p, want) {
			return true
		}
	}
	return false
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

// TestFailingRewrittenStepFailsLikeUpstream: a step autocache rewrote
// (a cache added, its command unchanged) that fails gives upstream's exit
// code, error and Dockerfile excerpt.
func TestFailingRewrittenStepFailsLikeUpstream(t *testing.T) {
	e := newEngine(t)
	body := "FROM python:3.11-slim\nARG E2E_RUN\nRUN pip install acpkg-001==1.0.0 no-such-package==1.0.0\n"
	outs, codes := map[string]string{}, map[string]int{}
	for _, mode := range []string{upstream, viaSyntax} {
		dir := t.TempDir()
		writeDockerfile(t, e, dir, mode, body)
		out, err := e.build(t, buildSpec{dir: dir, mode: mode, args: map[string]string{"E2E_RUN": e.runID}})
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("%s: want buildctl to fail, got %v", mode, err)
		}
		outs[mode], codes[mode] = errorLines(out), exit.ExitCode()
		if mode == viaSyntax && !strings.Contains(out, "[autocache: pip]") {
			t.Errorf("autocache did not rewrite the failing step:\n%s", tail(out, 20))
		}
	}
	if !strings.Contains(outs[upstream], "Dockerfile:4") || !strings.Contains(outs[upstream], "no-such-package") {
		t.Fatalf("unexpected upstream error:\n%s", outs[upstream])
	}
	if outs[viaSyntax] != outs[upstream] || codes[viaSyntax] != codes[upstream] {
		t.Errorf("autocache's failure differs from upstream's:\n--- upstream (exit %d)\n%s\n--- autocache (exit %d)\n%s",
			codes[upstream], outs[upstream], codes[viaSyntax], outs[viaSyntax])
	}
}

// TestUnreadableBaseImageLeavesTheStepAlone: where the frontend cannot read
// a base image (here /root/.cache/pip is a symlink to itself, so listing it
// fails), the step runs as upstream made it: the build succeeds, downloads
// what upstream's does, gives upstream's image, and its progress name says
// autocache left it alone and why.
func TestUnreadableBaseImageLeavesTheStepAlone(t *testing.T) {
	e := newEngine(t)
	base := fmt.Sprintf("%s/e2e-fault/loop:%s", os.Getenv("AUTOCACHE_REGISTRY"), e.runID)
	dir := t.TempDir()
	writeDockerfile(t, e, dir, upstream, "FROM python:3.11-slim\nRUN mkdir -p /root/.cache && ln -s pip /root/.cache/pip\n")
	if out, err := e.build(t, buildSpec{dir: dir, mode: upstream, push: base}); err != nil {
		t.Fatalf("base image: %v\n%s", err, tail(out, 20))
	}
	tars := map[string]string{}
	for _, mode := range []string{upstream, viaSyntax} {
		dir := t.TempDir()
		body := fixtures[1].files(t, e, dir, 3) // pip install --no-cache-dir
		writeDockerfile(t, e, dir, mode, strings.Replace(body, "FROM python:3.11-slim", "FROM "+base, 1))
		tars[mode] = filepath.Join(t.TempDir(), "image.tar")
		before := e.counts(t)["pip"]
		// Each its own run: the step left alone is upstream's, byte for
		// byte, so it would be solved from upstream's build.
		args := map[string]string{"E2E_RUN": e.runID + "-" + mode, "BUILDKIT_CACHE_MOUNT_NS": "e2e-fault-" + e.runID}
		out, err := e.build(t, buildSpec{dir: dir, mode: mode, args: args, tarOut: tars[mode]})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if n := e.counts(t)["pip"] - before; n != 3 {
			t.Errorf("%s: downloaded %d package files, want 3", mode, n)
		}
		if want := "[autocache: left alone: cannot read /root/.cache/pip in the base image"; mode == viaSyntax && !strings.Contains(out, want) {
			t.Errorf("the build output does not say %q:\n%s", want, tail(out, 30))
		}
	}
	compareImages(t, tars[upstream], tars[viaSyntax], nil, volatile)
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
