//go:build e2e

package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// userPip is a non-root pip project: its cache has a seed (owned by the
// user), which BuildKit keys apart from the same id without one.
var userPip = fixture{
	name: "pip-user", kind: "pip",
	files: func(t *testing.T, e *engine, dir string, n int) string {
		writeFile(t, dir, "requirements.txt", strings.Join(pkgs(n, "acpkg-%03d==1.0.0"), "\n")+"\n")
		return "FROM python:3.11-slim\nARG E2E_RUN\nRUN useradd -m -u 1000 app\nUSER app\nWORKDIR /home/app\n" +
			"COPY requirements.txt .\nRUN pip install --user --no-cache-dir -r requirements.txt\n"
	},
	cached: []string{"/home/app/.cache/pip"},
}

// TestCachesMoveBetweenBuilders is issue 12's promise, end to end. Builder
// A (the engine's) builds the four seed projects and a non-root pip project
// with 47 packages; `autocache cache export` copies their caches out of A
// (to a directory, then to the harness registry); builder B, a second
// buildkitd with an empty root, imports them and rebuilds with 48: one
// download per project, against 48 without the import, and B's images
// equal A's outside the cached directories. Then an import while a build
// holds the locked apt cache, and the faults: each fails naming what
// failed, and leaves the cache as it was.
func TestCachesMoveBetweenBuilders(t *testing.T) {
	e := newEngine(t)
	cli := autocacheCLI(t)
	ns := "e2e-xfer-" + e.runID
	projects := append(slices.Clone(fixtures), userPip)
	dirs := map[string]string{}
	var metas []string
	build := func(fx fixture, n int, b buildSpec) int {
		t.Helper()
		writeDockerfile(t, e, b.dir, viaSyntax, fx.files(t, e, b.dir, n))
		b.mode = viaSyntax
		before := e.counts(t)[fx.kind]
		if _, err := e.build(t, b); err != nil {
			t.Fatalf("%s: build with %d packages on %s: %v", fx.name, n, or(b.addr, "A"), err)
		}
		return e.counts(t)[fx.kind] - before
	}
	args := func(run string) map[string]string {
		return map[string]string{"E2E_RUN": run, "BUILDKIT_CACHE_MOUNT_NS": ns}
	}

	// A: cold builds, with the caches they used in their metadata.
	start := time.Now()
	for _, fx := range projects {
		dirs[fx.name] = t.TempDir()
		meta := filepath.Join(t.TempDir(), "metadata.json")
		if got := build(fx, 47, buildSpec{dir: dirs[fx.name], args: args(e.runID), meta: meta}); got != 47 {
			t.Errorf("%s: cold build on A downloaded %d, want 47", fx.name, got)
		}
		metas = append(metas, "--metadata-file", meta)
	}
	t.Logf("cold builds on A: %s", time.Since(start).Round(time.Second))
	reported := reportedCaches(t, metas)
	if len(reported) != 8 {
		t.Errorf("the builds reported %d caches, want 8 (apt 2, pip 2, npm 1, go 2, non-root pip 1 with a seed): %v", len(reported), reported)
	}

	// Export A's caches to a directory and to the registry, before A's
	// caches get the 48th package.
	out := filepath.Join(t.TempDir(), "caches")
	ref := "docker-image://" + os.Getenv("AUTOCACHE_REGISTRY") + "/e2e/caches:" + e.runID
	start = time.Now()
	cli.run(t, append([]string{"cache", "export", "--to", out}, metas...)...)
	t.Logf("export to a directory: %s", time.Since(start).Round(100*time.Millisecond))
	idx := readIndex(t, out)
	if got := indexKeys(idx); !slices.Equal(got, reported) {
		t.Errorf("exported caches\n %v\nwant the reported ones\n %v", got, reported)
	}
	start = time.Now()
	cli.run(t, append([]string{"cache", "export", "--to", ref}, metas...)...)
	t.Logf("export to the registry: %s", time.Since(start).Round(100*time.Millisecond))

	// A: the rebuilds whose images B's must equal.
	imagesA := map[string]string{}
	for _, fx := range projects {
		imagesA[fx.name] = filepath.Join(t.TempDir(), "image.tar")
		build(fx, 48, buildSpec{dir: dirs[fx.name], args: args(e.runID), tarOut: imagesA[fx.name]})
	}

	b := startSecondBuilder(t)
	t.Run("directory", func(t *testing.T) {
		if ids := cacheMounts(t, b.addr); len(ids) != 0 {
			t.Fatalf("builder B is not empty: %v", ids)
		}
		// Without the import: B downloads all 48 (another namespace, so B's
		// caches for the import stay empty, and another E2E_RUN: BuildKit
		// leaves a locked cache's id out of a step's cache key; Go's is left
		// out: its cold build alone takes most of a minute).
		for _, fx := range projects {
			if fx.name == "go" || fx.name == "pip-user" {
				continue
			}
			dir := t.TempDir()
			got := build(fx, 48, buildSpec{dir: dir, addr: b.addr, args: map[string]string{"E2E_RUN": e.runID + "-control", "BUILDKIT_CACHE_MOUNT_NS": ns + "-control"}})
			if got != 48 {
				t.Errorf("%s: B without the import downloaded %d, want 48", fx.name, got)
			}
		}
		start := time.Now()
		stdout := cli.run(t, "cache", "import", "--from", out, "--addr", b.addr)
		t.Logf("import from a directory: %s", time.Since(start).Round(100*time.Millisecond))
		if !strings.Contains(stdout, fmt.Sprintf("imported %d caches", len(reported))) {
			t.Errorf("import summary:\n%s", stdout)
		}
		for _, fx := range projects {
			img := filepath.Join(t.TempDir(), "image.tar")
			if got := build(fx, 48, buildSpec{dir: dirs[fx.name], addr: b.addr, args: args(e.runID), tarOut: img}); got != 1 {
				t.Errorf("%s: B's rebuild after the import downloaded %d, want 1", fx.name, got)
			}
			compareImages(t, imagesA[fx.name], img, fx.cached, append(fx.volatile, volatile...))
		}
	})

	t.Run("registry, during a build", func(t *testing.T) {
		if out, err := exec.Command("buildctl", "--addr", b.addr, "prune", "--filter", "type==exec.cachemount").CombinedOutput(); err != nil {
			t.Fatalf("prune: %v\n%s", err, out)
		}
		if ids := cacheMounts(t, b.addr); len(ids) != 0 {
			t.Fatalf("B still has cache mounts: %v", ids)
		}
		// An apt build holds the locked apt caches; an import of them waits
		// for it, then merges.
		aptIDs := []string{}
		for _, c := range idx.Caches {
			if strings.Contains(c.ID, "/var/") {
				aptIDs = append(aptIDs, "--id", c.ID)
			}
		}
		xdir := t.TempDir()
		other := func(n int) string {
			return "FROM debian:bookworm-slim\nARG E2E_RUN\nRUN apt-get update && apt-get install -y " +
				strings.Join(pkgs(n, "acpkg-%03d")[49:], " ") + " && rm -rf /var/lib/apt/lists/*\n"
		}
		writeDockerfile(t, e, xdir, viaSyntax, other(53))
		before := e.counts(t)["apt"]
		var buildErr error
		var buildDone time.Time
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, buildErr = e.build(t, buildSpec{dir: xdir, mode: viaSyntax, addr: b.addr, args: args(e.runID + "-x")})
			buildDone = time.Now()
		}()
		if !waitInUse(t, b.addr, ns+"/linux/amd64//var/cache/apt", 60*time.Second) {
			t.Error("the apt build never mounted the apt cache")
		}
		start := time.Now()
		cli.run(t, append([]string{"cache", "import", "--from", ref, "--addr", b.addr}, aptIDs...)...)
		importDone := time.Now()
		wg.Wait()
		if buildErr != nil {
			t.Fatalf("the apt build during the import failed: %v", buildErr)
		}
		t.Logf("import of the apt caches during a build: %s (ended %s after the build)", importDone.Sub(start).Round(100*time.Millisecond), importDone.Sub(buildDone).Round(100*time.Millisecond))
		if got := e.counts(t)["apt"] - before; got != 4 {
			t.Errorf("the concurrent apt build downloaded %d, want 4", got)
		}
		start = time.Now()
		cli.run(t, "cache", "import", "--from", ref, "--addr", b.addr)
		t.Logf("import from the registry: %s", time.Since(start).Round(100*time.Millisecond))
		for _, fx := range projects {
			if got := build(fx, 48, buildSpec{dir: dirs[fx.name], addr: b.addr, args: args(e.runID + "-reg")}); got != 1 {
				t.Errorf("%s: B's rebuild after the registry import downloaded %d, want 1", fx.name, got)
			}
		}
		// --dockerfile names the same caches as the build's metadata (base
		// images resolved through the builder).
		dfOut := filepath.Join(t.TempDir(), "caches")
		cli.run(t, "cache", "export", "--addr", b.addr, "--image", e.frontend, "--to", dfOut,
			"--dockerfile", filepath.Join(dirs["go"], "Dockerfile"), "--build-arg", "BUILDKIT_CACHE_MOUNT_NS="+ns)
		if got := indexKeys(readIndex(t, dfOut)); !slices.Equal(got, []string{ns + "//go/pkg/mod", ns + "//root/.cache/go-build"}) {
			t.Errorf("--dockerfile exported %v", got)
		}
		// The concurrent build's own downloads are in the cache too.
		writeDockerfile(t, e, xdir, viaSyntax, other(54))
		before = e.counts(t)["apt"]
		if _, err := e.build(t, buildSpec{dir: xdir, mode: viaSyntax, addr: b.addr, args: args(e.runID + "-x")}); err != nil {
			t.Fatal(err)
		}
		if got := e.counts(t)["apt"] - before; got != 1 {
			t.Errorf("rebuilding the concurrent apt build with one more package downloaded %d, want 1", got)
		}
	})

	t.Run("faults", func(t *testing.T) {
		testCacheFaults(t, e, cli, b, ns, out, idx)
	})
}

// testCacheFaults: each bad input or failure is an error that names what
// failed, and the cache on the builder is as it was.
func testCacheFaults(t *testing.T, e *engine, cli *autocacheBin, b *secondBuilder, ns, out string, idx cacheIndex) {
	image := "--image=" + e.frontend
	pipID := ns + "//root/.cache/pip"
	state := func() string { return exportedState(t, cli, b.addr, image, pipID) }
	before := state()
	unchanged := func(what string) {
		t.Helper()
		if after := state(); after != before {
			t.Errorf("%s changed the cache: %s, then %s", what, before, after)
		}
	}

	// Unknown ids.
	cli.fails(t, "unknown cache id //nope: unix://", "cache", "export", "--addr", b.addr, image, "--id", "//nope", "--to", t.TempDir())
	cli.fails(t, "unknown cache id //nope: "+out+" has no such cache", "cache", "import", "--addr", b.addr, "--from", out, "--id", "//nope")

	// A truncated archive: refused before it reaches the builder.
	bad := copyDir(t, out)
	pip := idx.entry(t, pipID)
	truncate(t, filepath.Join(bad, pip.Archive), pip.Size/2)
	cli.fails(t, "archive of "+pipID+": "+filepath.Join(bad, pip.Archive)+" is corrupt or truncated", "cache", "import", "--addr", b.addr, "--from", bad, "--id", pipID)
	unchanged("a truncated archive")

	// A truncated archive whose index agrees with it (a broken exporter):
	// the builder stages, checks, and leaves the cache alone.
	bad = copyDir(t, out)
	truncate(t, filepath.Join(bad, pip.Archive), pip.Size-64)
	rewriteIndex(t, bad, pipID, filepath.Join(bad, pip.Archive))
	cli.fails(t, "importing cache "+pipID+": corrupt or truncated archive", "cache", "import", "--addr", b.addr, "--from", bad, "--id", pipID)
	unchanged("a corrupt archive")

	// A registry that refuses, and one without the image.
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
	}))
	defer refusing.Close()
	host := strings.TrimPrefix(refusing.URL, "http://")
	cli.fails(t, "pushing to docker-image://"+host+"/team/caches:ci", "cache", "export", "--addr", b.addr, image, "--id", pipID, "--to", "docker-image://"+host+"/team/caches:ci")
	cli.fails(t, "docker-image://"+host+"/team/caches:ci", "cache", "import", "--addr", b.addr, "--from", "docker-image://"+host+"/team/caches:ci")
	cli.fails(t, "not found", "cache", "import", "--addr", b.addr, "--from", "docker-image://"+os.Getenv("AUTOCACHE_REGISTRY")+"/e2e/nothing:here")
	unchanged("the registry faults")

	// The builder goes away mid-copy: a 200 MB cache (a hand-written mount,
	// whose id has autocache's shape), exported, then removed from B, then
	// imported while B is killed once the copy step has the cache mounted.
	bigID := ns + "//big"
	dir := t.TempDir()
	writeDockerfile(t, e, dir, upstream, "FROM debian:bookworm-slim\nARG E2E_RUN\n"+
		"RUN --mount=type=cache,target=/big head -c 200000000 /dev/urandom >/big/blob\n")
	if _, err := e.build(t, buildSpec{dir: dir, mode: upstream, addr: b.addr, args: map[string]string{"E2E_RUN": e.runID, "BUILDKIT_CACHE_MOUNT_NS": ns}}); err != nil {
		t.Fatal(err)
	}
	bigOut := t.TempDir()
	cli.run(t, "cache", "export", "--addr", b.addr, image, "--id", bigID, "--to", bigOut)
	pruneCache(t, b.addr, bigID)
	cmd := cli.command(t, "cache", "import", "--addr", b.addr, "--from", bigOut, "--progress", "plain")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	mounted := waitInUse(t, b.addr, bigID, 120*time.Second)
	time.Sleep(100 * time.Millisecond)
	b.kill(t)
	err := cmd.Wait()
	if !mounted || err == nil || !strings.Contains(stderr.String(), "importing cache "+bigID) ||
		!strings.Contains(stderr.String(), "the builder went away or cannot be reached") {
		t.Errorf("import while the builder dies (mounted: %v): %v\n%s", mounted, err, tail(stderr.String(), 15))
	} else {
		t.Logf("import while the builder dies: %s", tail(strings.TrimSpace(stderr.String()), 2))
	}
	b.start(t)
	if got := exportedState(t, cli, b.addr, image, bigID); !strings.HasPrefix(got, "0 files,") && got != "absent" {
		t.Errorf("after the builder died mid-import its cache holds %s, want nothing", got)
	}
	// The import can simply be run again.
	cli.run(t, "cache", "import", "--addr", b.addr, "--from", bigOut)
	if got := exportedState(t, cli, b.addr, image, bigID); !strings.HasPrefix(got, "1 files") {
		t.Errorf("after the import was run again the cache holds %s, want the one file", got)
	}
	unchanged("the builder dying")
}

// autocacheBin is the autocache command, built from this checkout.
type autocacheBin struct{ path string }

// autocacheCLI builds the autocache command into the test's temporary
// folder.
func autocacheCLI(t *testing.T) *autocacheBin {
	t.Helper()
	path := filepath.Join(t.TempDir(), "autocache")
	if out, err := exec.Command("go", "build", "-o", path, "../cmd/autocache").CombinedOutput(); err != nil {
		t.Fatalf("go build ../cmd/autocache: %v\n%s", err, out)
	}
	return &autocacheBin{path: path}
}

func (a *autocacheBin) command(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(a.path, args...)
	cmd.Env = os.Environ()
	return cmd
}

// run runs the command, which must succeed; it returns its stdout.
func (a *autocacheBin) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := a.command(t, append(args, "--progress=plain")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("autocache %s: %v\n%s\n%s", strings.Join(args, " "), err, tail(stderr.String(), 40), stdout.String())
	}
	t.Logf("autocache %s (%s):\n%s", strings.Join(args[:2], " "), time.Since(start).Round(100*time.Millisecond), stdout.String())
	return stdout.String()
}

// fails runs the command, which must fail with want in its error.
func (a *autocacheBin) fails(t *testing.T, want string, args ...string) {
	t.Helper()
	cmd := a.command(t, append(args, "--progress=quiet")...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err := cmd.Run()
	if err == nil || !strings.Contains(stderr.String(), want) {
		t.Errorf("autocache %s: %v, want an error with %q:\n%s", strings.Join(args, " "), err, want, tail(stderr.String(), 20))
	}
}

// cacheIndex is a directory's autocache-caches.json.
type cacheIndex struct {
	Image  string
	Caches []indexEntry
}

type indexEntry struct {
	ID, Target, Archive, Digest, DiffID, Mode string
	UID, GID                                  int
	Seed                                      bool
	Size, Files, Bytes                        int64
}

func readIndex(t *testing.T, dir string) cacheIndex {
	t.Helper()
	var idx cacheIndex
	b, err := os.ReadFile(filepath.Join(dir, "autocache-caches.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	return idx
}

func (idx cacheIndex) entry(t *testing.T, id string) indexEntry {
	t.Helper()
	for _, c := range idx.Caches {
		if c.ID == id && !c.Seed {
			return c
		}
	}
	t.Fatalf("no cache %s in the index", id)
	panic("unreachable")
}

// indexKeys lists the index's caches as "id" or "id uid:gid" (seeded), sorted.
func indexKeys(idx cacheIndex) []string {
	var out []string
	for _, c := range idx.Caches {
		out = append(out, cacheKey(c.ID, c.Seed, c.UID, c.GID))
	}
	slices.Sort(out)
	return out
}

func cacheKey(id string, seed bool, uid, gid int) string {
	if seed {
		return fmt.Sprintf("%s %d:%d", id, uid, gid)
	}
	return id
}

// reportedCaches lists the caches the builds' metadata files report
// (buildctl writes the report as a JSON string).
func reportedCaches(t *testing.T, metas []string) []string {
	t.Helper()
	var out []string
	for i := 1; i < len(metas); i += 2 {
		var md map[string]json.RawMessage
		b, _ := os.ReadFile(metas[i])
		if err := json.Unmarshal(b, &md); err != nil {
			t.Fatalf("%s: %v\n%s", metas[i], err, b)
		}
		raw := md["frontend.autocache.caches"]
		var s string
		if json.Unmarshal(raw, &s) == nil {
			raw = json.RawMessage(s)
		}
		var rep struct {
			Caches []struct {
				ID       string
				Seed     bool
				UID, GID int
			}
		}
		if err := json.Unmarshal(raw, &rep); err != nil {
			t.Fatalf("%s: frontend.autocache.caches: %v\n%s", metas[i], err, b)
		}
		for _, c := range rep.Caches {
			if k := cacheKey(c.ID, c.Seed, c.UID, c.GID); !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

// duRecord is a record of `buildctl du --format json`.
type duRecord struct {
	ID          string `json:"id"`
	InUse       bool   `json:"inUse"`
	Description string `json:"description"`
}

func cacheRecords(t *testing.T, addr string) []duRecord {
	t.Helper()
	out, err := exec.Command("buildctl", "--addr", addr, "du", "--format", "json", "--filter", "type==exec.cachemount").Output()
	if err != nil {
		t.Fatalf("buildctl du: %v", err)
	}
	var recs []duRecord
	if err := json.Unmarshal(out, &recs); err != nil {
		t.Fatalf("buildctl du: %v\n%s", err, out)
	}
	return recs
}

// cacheMounts lists the descriptions of a builder's cache mounts.
func cacheMounts(t *testing.T, addr string) []string {
	var out []string
	for _, r := range cacheRecords(t, addr) {
		out = append(out, r.Description)
	}
	return out
}

// pruneCache removes the cache mount id from a builder.
func pruneCache(t *testing.T, addr, id string) {
	t.Helper()
	n := 0
	for _, r := range cacheRecords(t, addr) {
		if strings.HasSuffix(r.Description, fmt.Sprintf("with id %q", id)) {
			if out, err := exec.Command("buildctl", "--addr", addr, "prune", "--filter", "id=="+r.ID).CombinedOutput(); err != nil {
				t.Fatalf("prune %s: %v\n%s", id, err, out)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatalf("no cache %s to prune", id)
	}
}

// waitInUse waits until a build step has the cache id mounted.
func waitInUse(t *testing.T, addr, id string, timeout time.Duration) bool {
	t.Helper()
	suffix := fmt.Sprintf("with id %q", id)
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, r := range cacheRecords(t, addr) {
			if r.InUse && strings.HasSuffix(r.Description, suffix) {
				return true
			}
		}
	}
	return false
}

// exportedState describes a cache on a builder by exporting it:
// "N files, sha256:…" (the uncompressed archive's digest), or "absent".
func exportedState(t *testing.T, cli *autocacheBin, addr, image, id string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := cli.command(t, "cache", "export", "--addr", addr, image, "--id", id, "--to", dir, "--progress=quiet")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "unknown cache id") {
			return "absent"
		}
		t.Fatalf("export %s: %v\n%s", id, err, out)
	}
	idx := readIndex(t, dir)
	if len(idx.Caches) != 1 {
		t.Fatalf("export %s: %d caches", id, len(idx.Caches))
	}
	return fmt.Sprintf("%d files, %s", idx.Caches[0].Files, idx.Caches[0].DiffID)
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	return dst
}

func truncate(t *testing.T, file string, size int64) {
	t.Helper()
	if err := os.Truncate(file, size); err != nil {
		t.Fatal(err)
	}
}

// rewriteIndex makes the index's digest and size of id agree with file.
func rewriteIndex(t *testing.T, dir, id, file string) {
	t.Helper()
	p := filepath.Join(dir, "autocache-caches.json")
	b, _ := os.ReadFile(p)
	var idx map[string]any
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	dt, _ := os.ReadFile(file)
	for _, c := range idx["caches"].([]any) {
		m := c.(map[string]any)
		if m["id"] == id && m["seed"] == false {
			m["digest"] = fmt.Sprintf("sha256:%x", sha256.Sum256(dt))
			m["size"] = len(dt)
		}
	}
	b, _ = json.Marshal(idx)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
