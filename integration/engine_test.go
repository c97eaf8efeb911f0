//go:build e2e

package integration

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// engine is the embedded engine started by integration/engine/up.sh; its
// exports arrive as environment variables (make test runs us through
// with-engine.sh).
type engine struct {
	frontend  string // ref for # syntax=
	stats     string // GET → {"apt":N,"apt-index":N,"pip":N,"npm":N,"go":N,"cargo":N,"maven":N}
	pkgserver string // base URL of the hermetic registries
	runID     string // unique per test run: keeps layer and cache-mount caches of earlier runs out
}

func newEngine(t *testing.T) *engine {
	t.Helper()
	e := &engine{
		frontend:  os.Getenv("AUTOCACHE_FRONTEND"),
		stats:     os.Getenv("AUTOCACHE_STATS"),
		pkgserver: os.Getenv("AUTOCACHE_PKGSERVER"),
	}
	if e.frontend == "" || e.stats == "" || e.pkgserver == "" || os.Getenv("BUILDKIT_HOST") == "" {
		t.Fatal("the engine is not up: run these tests with `make test` (or eval \"$(make -s e2e-up)\" first)")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	e.runID = time.Now().UTC().Format("0102-150405") + "-" + hex.EncodeToString(b)
	return e
}

// counts reads the package-file counters of the hermetic registries.
func (e *engine) counts(t *testing.T) map[string]int {
	t.Helper()
	resp, err := http.Get(e.stats)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// How the frontend is chosen for a build.
const (
	upstream      = "upstream"        // no syntax line: BuildKit's builtin Dockerfile frontend
	viaSyntax     = "syntax"          // # syntax=<autocache> with --frontend dockerfile.v0
	viaGateway    = "gateway"         // --frontend gateway.v0 --opt source=<autocache>
	viaBuildkitSx = "BUILDKIT_SYNTAX" // --opt build-arg:BUILDKIT_SYNTAX=<autocache>
)

type buildSpec struct {
	dir     string            // context; its Dockerfile is written from dockerfile
	mode    string            // upstream, viaSyntax, viaGateway, viaBuildkitSx
	args    map[string]string // build args
	tarOut  string            // export the image filesystem as a tar here ("" = no export)
	ociOut  string            // export the whole image as an OCI layout tar here (also)
	meta    string            // --metadata-file
	push    string            // push the image under this name ("" = no push)
	secrets map[string]string // --secret id=K,src=V (a file)
	// platform is buildctl's --opt platform (e.g. "linux/amd64,linux/arm64");
	// "" builds for the worker's own platform.
	platform string
	// addr is the builder ("" = the engine's, $BUILDKIT_HOST).
	addr string
	// extra are more arguments of buildctl build (e.g. --opt context:…).
	extra []string
}

// writeDockerfile writes body as dir/Dockerfile. Line 1 is the syntax line
// for autocache and a plain comment otherwise, so line numbers agree.
func writeDockerfile(t *testing.T, e *engine, dir, mode, body string) {
	t.Helper()
	first := "# built by the frontend chosen on the command line\n"
	if mode == viaSyntax {
		first = "# syntax=" + e.frontend + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(first+body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// build runs buildctl the way a user would; it returns buildctl's output.
func (e *engine) build(t *testing.T, b buildSpec) (string, error) {
	t.Helper()
	args := []string{"build", "--progress=plain", "--local", "context=" + b.dir, "--local", "dockerfile=" + b.dir}
	if b.addr != "" {
		args = append([]string{"--addr", b.addr}, args...)
	}
	switch b.mode {
	case viaGateway:
		args = append(args, "--frontend", "gateway.v0", "--opt", "source="+e.frontend)
	case viaBuildkitSx:
		args = append(args, "--frontend", "dockerfile.v0", "--opt", "build-arg:BUILDKIT_SYNTAX="+e.frontend)
	default:
		args = append(args, "--frontend", "dockerfile.v0")
	}
	if b.platform != "" {
		args = append(args, "--opt", "platform="+b.platform)
	}
	for _, id := range slices.Sorted(maps.Keys(b.secrets)) {
		args = append(args, "--secret", "id="+id+",src="+b.secrets[id])
	}
	keys := make([]string, 0, len(b.args))
	for k := range b.args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--opt", "build-arg:"+k+"="+b.args[k])
	}
	if b.tarOut != "" {
		args = append(args, "--output", "type=tar,dest="+b.tarOut)
	}
	if b.ociOut != "" { // BuildKit runs several exporters on one build
		args = append(args, "--output", "type=oci,dest="+b.ociOut)
	}
	if b.push != "" {
		args = append(args, "--output", "type=image,name="+b.push+",push=true")
	}
	if b.meta != "" {
		args = append(args, "--metadata-file", b.meta)
	}
	args = append(args, b.extra...)
	cmd := exec.Command("buildctl", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("buildctl %s (%s): %v", b.mode, time.Since(start).Round(time.Millisecond), err)
	if err != nil {
		t.Logf("output:\n%s", tail(out.String(), 60))
	}
	return out.String(), err
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// entry is one file of an exported image, as far as a user can tell.
type entry struct {
	Type     byte
	Mode     int64
	UID, GID int
	Size     int64
	Link     string
	SHA256   string
}

func (x entry) String() string {
	return fmt.Sprintf("type=%c mode=%o uid=%d gid=%d size=%d link=%q sha=%.12s", x.Type, x.Mode, x.UID, x.GID, x.Size, x.Link, x.SHA256)
}

// walkTar calls fn for each entry of a tar file, with the entry's contents.
func walkTar(t *testing.T, file string, fn func(h *tar.Header, body io.Reader)) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(h, tr)
	}
}

// imagePath is a tar entry's name as an absolute path in the image: "/",
// "/etc/passwd".
func imagePath(name string) string {
	return "/" + strings.TrimSuffix(strings.TrimPrefix(filepath.Clean("/"+name), "/"), "/")
}

// readTar lists an exported image filesystem.
func readTar(t *testing.T, file string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	walkTar(t, file, func(h *tar.Header, body io.Reader) {
		x := entry{Type: h.Typeflag, Mode: h.Mode, UID: h.Uid, GID: h.Gid, Size: h.Size, Link: h.Linkname}
		if h.Typeflag == tar.TypeReg {
			s := sha256.New()
			if _, err := io.Copy(s, body); err != nil {
				t.Fatal(err)
			}
			x.SHA256 = hex.EncodeToString(s.Sum(nil))
		}
		out[imagePath(h.Name)] = x
	})
	// A hard link is compared as the file it links to: which files share an
	// inode is not something a user of the image sees in its contents, and
	// it can legitimately differ: pnpm hard-links packages from its store,
	// which autocache puts on a cache mount (another filesystem), so there
	// pnpm copies them.
	for name, x := range out {
		if x.Type == tar.TypeLink {
			if target, ok := out[imagePath(x.Link)]; ok && target.Type == tar.TypeReg {
				out[name] = target
			}
		}
	}
	return out
}

// tarFiles returns the contents of the named regular files of an exported
// image filesystem.
func tarFiles(t *testing.T, file string, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	walkTar(t, file, func(h *tar.Header, body io.Reader) {
		if name := imagePath(h.Name); h.Typeflag == tar.TypeReg && slices.Contains(names, name) {
			b, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			out[name] = string(b)
		}
	})
	for _, n := range names {
		if _, ok := out[n]; !ok {
			t.Errorf("%s: no file %s in the image", file, n)
		}
	}
	return out
}

// imageConfig reads the image config of a one-platform OCI layout tar
// (index.json, its manifest, its config) as generic JSON.
func imageConfig(t *testing.T, ociTar string) map[string]any {
	t.Helper()
	blobs := map[string][]byte{}
	walkTar(t, ociTar, func(h *tar.Header, body io.Reader) {
		if h.Typeflag == tar.TypeReg && (h.Name == "index.json" || strings.HasPrefix(h.Name, "blobs/")) {
			b, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			blobs[h.Name] = b
		}
	})
	var doc struct {
		Manifests []struct{ Digest, MediaType string }
		Config    struct{ Digest string }
	}
	read := func(name string) {
		doc.Manifests, doc.Config.Digest = nil, ""
		if err := json.Unmarshal(blobs[name], &doc); err != nil {
			t.Fatalf("%s: %s: %v", ociTar, name, err)
		}
	}
	blob := func(d string) string { return "blobs/" + strings.Replace(d, ":", "/", 1) }
	read("index.json")
	for doc.Config.Digest == "" { // index → (index →) manifest
		if len(doc.Manifests) != 1 {
			t.Fatalf("%s: want one manifest, have %v", ociTar, doc.Manifests)
		}
		read(blob(doc.Manifests[0].Digest))
	}
	var cfg map[string]any
	if err := json.Unmarshal(blobs[blob(doc.Config.Digest)], &cfg); err != nil {
		t.Fatalf("%s: config: %v", ociTar, err)
	}
	return cfg
}

// compareConfigs checks that two images have the same config and history
// (env, user, workdir, entrypoint, cmd, labels, ports, volumes, shell,
// platform; each history entry's created_by, empty_layer and comment),
// timestamps aside; the layers' digests (rootfs) differ where caches keep
// files out of a layer and are not compared.
func compareConfigs(t *testing.T, upstreamOCI, autocacheOCI string) {
	t.Helper()
	norm := func(cfg map[string]any) string {
		delete(cfg, "created")
		delete(cfg, "rootfs")
		if h, ok := cfg["history"].([]any); ok {
			for _, e := range h {
				delete(e.(map[string]any), "created")
			}
		}
		b, _ := json.MarshalIndent(cfg, "", "  ")
		return string(b)
	}
	a, b := norm(imageConfig(t, upstreamOCI)), norm(imageConfig(t, autocacheOCI))
	if a != b {
		t.Errorf("image config or history differs from upstream's:\n--- upstream\n%s\n--- autocache\n%s", a, b)
	}
	if !strings.Contains(a, `"created_by"`) {
		t.Errorf("no history in the image config:\n%s", a)
	}
}

// holdsOnlyCachesShallow reports whether p is an ancestor of a cached directory.
func holdsOnlyCachesShallow(p string, cached []string) bool {
	for _, d := range cached {
		if under(d, p) && d != p {
			return true
		}
	}
	return false
}

// under reports whether p is dir or inside it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// compareImages checks that two exported filesystems have the same files,
// modes, owners and contents, except inside the cached directories (whose
// contents differ by design) and the volatile files (which differ between
// any two builds, e.g. logs with timestamps). It returns the differences
// that were excused, for the log.
func compareImages(t *testing.T, upstreamTar, autocacheTar string, cached, volatile []string) []string {
	t.Helper()
	a, b := readTar(t, upstreamTar), readTar(t, autocacheTar)
	var excused, bad []string
	isCached := func(p string) bool {
		for _, d := range cached {
			if under(p, d) {
				return true
			}
		}
		return false
	}
	// holdsOnlyCaches: a directory that upstream created only on the way to
	// a cached directory (e.g. /go/pkg for /go/pkg/mod): everything under it
	// lies inside cached directories.
	holdsOnlyCaches := func(p string, img map[string]entry) bool {
		ancestor := false
		for _, d := range cached {
			ancestor = ancestor || (under(d, p) && d != p)
		}
		if !ancestor {
			return false
		}
		for q := range img {
			if under(q, p) && q != p && !isCached(q) && !holdsOnlyCachesShallow(q, cached) {
				return false
			}
		}
		return true
	}
	isVolatile := func(p string) bool {
		for _, v := range volatile {
			if ok, _ := filepath.Match(v, p); ok || under(p, v) || (strings.HasPrefix(v, "*") && strings.HasSuffix(p, v[1:])) {
				return true
			}
		}
		return false
	}
	paths := map[string]bool{}
	for p := range a {
		paths[p] = true
	}
	for p := range b {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	for _, p := range sorted {
		x, inA := a[p]
		y, inB := b[p]
		var diff string
		switch {
		case !inA:
			diff = fmt.Sprintf("%s: only with autocache (%v)", p, y)
		case !inB:
			diff = fmt.Sprintf("%s: only upstream (%v)", p, x)
		case isVolatile(p) && x.Type == y.Type && x.Mode == y.Mode && x.UID == y.UID && x.GID == y.GID:
			continue // same file, contents allowed to differ
		case x != y:
			diff = fmt.Sprintf("%s: upstream %v, autocache %v", p, x, y)
		default:
			continue
		}
		if isCached(p) || (!inB && holdsOnlyCaches(p, a)) || (!inA && holdsOnlyCaches(p, b)) {
			excused = append(excused, diff)
		} else {
			bad = append(bad, diff)
		}
	}
	if len(bad) > 0 {
		t.Errorf("the image differs from upstream's outside the cached directories (%d):\n  %s", len(bad), strings.Join(bad[:min(len(bad), 40)], "\n  "))
	}
	if len(a) < 100 {
		t.Errorf("the upstream image has only %d entries: export failed?", len(a))
	}
	return excused
}
