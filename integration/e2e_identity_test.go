//go:build e2e

package integration

import (
	"archive/tar"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Cache identity across platforms and releases (docs/cache-ids.md): one
// builder runs the steps of several platforms, and of several Debian
// releases, over the same caches.

const twoPlatforms = "linux/amd64,linux/arm64" // arm64 steps run under qemu (engine/lib.sh)

// aptDockerfile installs packages 1…n from the hermetic repository on
// debian:<release>-slim (the apt fixture's Dockerfile, on bookworm).
func aptDockerfile(release string, n int) string {
	return aptDockerfileOf(release, upTo(n))
}

// aptDockerfileOf installs the packages numbered nums.
func aptDockerfileOf(release string, nums []int) string {
	return "FROM debian:" + release + "-slim\nARG E2E_RUN\n" +
		"RUN apt-get update \\\n && apt-get install -y --no-install-recommends \\\n    " +
		strings.Join(pkgsOf(nums, "acpkg-%03d"), " \\\n    ") +
		" \\\n && rm -rf /var/lib/apt/lists/*\n"
}

// handWrittenAptDockerfile is the same install with the cache mounts Docker's
// documentation suggests (docker-clean removed, downloaded packages kept,
// lists and archives on locked caches) and nothing else: apt's default
// List-Cleanup stays on.
func handWrittenAptDockerfile(release string, n int) string {
	return "FROM debian:" + release + "-slim\nARG E2E_RUN\n" +
		"RUN rm -f /etc/apt/apt.conf.d/docker-clean; echo 'Binary::apt::APT::Keep-Downloaded-Packages \"true\";' > /etc/apt/apt.conf.d/keep-cache\n" +
		"RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\\n" +
		"    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \\\n" +
		"    apt-get update && apt-get install -y --no-install-recommends " + strings.Join(pkgs(n, "acpkg-%03d"), " ") + "\n"
}

// downloads is what one build fetched from the hermetic registries.
type downloads struct{ packages, indexes int }

// buildCounting builds and returns the download counters' deltas of kind
// (and of apt's index files).
func (e *engine) buildCounting(t *testing.T, kind string, b buildSpec) downloads {
	t.Helper()
	before := e.counts(t)
	if _, err := e.build(t, b); err != nil {
		t.Fatalf("%s build failed: %v", b.mode, err)
	}
	after := e.counts(t)
	return downloads{after[kind] - before[kind], after["apt-index"] - before["apt-index"]}
}

// TestMultiPlatformApt: an apt build for linux/amd64 and linux/arm64 at once.
// apt's caches are per platform, so the two platforms neither wait for each
// other nor delete each other's lists: the rebuild after adding a package
// downloads that package once per platform and no index, each platform's
// image is upstream's outside the caches, and each is really of its
// platform. With hand-written mounts shared by both platforms, each
// platform's `apt-get update` deletes the other's lists, and the rebuild
// downloads indexes again.
func TestMultiPlatformApt(t *testing.T) {
	e := newEngine(t)
	cached := []string{"/var/cache/apt", "/var/lib/apt/lists"}
	tars := map[string]string{}
	for _, mode := range []string{upstream, viaSyntax} {
		dir := t.TempDir()
		args := map[string]string{"E2E_RUN": e.runID, "BUILDKIT_CACHE_MOUNT_NS": "e2e-mp-" + e.runID}
		writeDockerfile(t, e, dir, mode, aptDockerfile("bookworm", 47))
		cold := e.buildCounting(t, "apt", buildSpec{dir: dir, mode: mode, args: args, platform: twoPlatforms})
		writeDockerfile(t, e, dir, mode, aptDockerfile("bookworm", 48))
		tars[mode] = filepath.Join(t.TempDir(), "image.tar")
		rebuild := e.buildCounting(t, "apt", buildSpec{dir: dir, mode: mode, args: args, platform: twoPlatforms, tarOut: tars[mode]})
		t.Logf("%s: cold build downloaded %+v, rebuild after adding one %+v", mode, cold, rebuild)
		if cold.packages != 2*47 {
			t.Errorf("%s cold build downloaded %d .debs, want 94 (47 per platform)", mode, cold.packages)
		}
		if mode == upstream {
			if rebuild.packages != 2*48 {
				t.Errorf("upstream rebuild downloaded %d .debs, want 96", rebuild.packages)
			}
			continue
		}
		if rebuild.packages != 2 {
			t.Errorf("autocache rebuild downloaded %d .debs, want 2 (the new package, once per platform)", rebuild.packages)
		}
		if rebuild.indexes != 0 {
			t.Errorf("autocache rebuild downloaded %d apt index files, want 0: a platform lost its lists", rebuild.indexes)
		}
	}
	for dir, img := range comparePlatforms(t, tars[upstream], tars[viaSyntax], cached, "/usr/bin/dpkg") {
		if readTar(t, img)["/usr/share/acpkg/acpkg-048/payload"].Size == 0 {
			t.Errorf("%s image: acpkg-048 not installed", dir)
		}
	}

	t.Run("hand-written shared mounts", func(t *testing.T) {
		dir := t.TempDir()
		args := map[string]string{"E2E_RUN": e.runID, "BUILDKIT_CACHE_MOUNT_NS": "e2e-mp-hand-" + e.runID}
		writeDockerfile(t, e, dir, upstream, handWrittenAptDockerfile("bookworm", 47))
		cold := e.buildCounting(t, "apt", buildSpec{dir: dir, mode: upstream, args: args, platform: twoPlatforms})
		writeDockerfile(t, e, dir, upstream, handWrittenAptDockerfile("bookworm", 48))
		rebuild := e.buildCounting(t, "apt", buildSpec{dir: dir, mode: upstream, args: args, platform: twoPlatforms})
		t.Logf("hand-written: cold build downloaded %+v, rebuild %+v", cold, rebuild)
		if rebuild.indexes == 0 {
			t.Errorf("with one lists cache for both platforms the rebuild downloaded no index: the hazard autocache's per-platform ids avoid did not show")
		}
	})
}

// TestMultiPlatformGoCrossCompile: the usual multi-platform Go Dockerfile
// (the compiler runs on the build platform, GOARCH set per target). Both
// targets share the module and build caches, whose keys include GOARCH: the
// rebuild downloads the new module once, and each platform's binary is of
// its architecture and the same as upstream's.
func TestMultiPlatformGoCrossCompile(t *testing.T) {
	e := newEngine(t)
	tars := map[string]string{}
	for _, mode := range []string{upstream, viaSyntax} {
		dir := t.TempDir()
		args := map[string]string{"E2E_RUN": e.runID, "BUILDKIT_CACHE_MOUNT_NS": "e2e-mp-go-" + e.runID}
		step := func(n int, out string) downloads {
			fixtures[3].files(t, e, dir, n) // go.mod, go.sum, main.go
			writeDockerfile(t, e, dir, mode, "FROM --platform=$BUILDPLATFORM golang:1.26 AS build\nARG E2E_RUN\nWORKDIR /src\n"+
				"COPY go.mod go.sum ./\nRUN go mod download\nCOPY main.go .\nARG TARGETOS TARGETARCH\n"+
				"RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/app .\n\n"+
				"FROM debian:bookworm-slim\nCOPY --from=build /out/app /usr/local/bin/app\n")
			return e.buildCounting(t, "go", buildSpec{dir: dir, mode: mode, args: args, platform: twoPlatforms, tarOut: out})
		}
		cold := step(47, "")
		tars[mode] = filepath.Join(t.TempDir(), "image.tar")
		rebuild := step(48, tars[mode])
		t.Logf("%s: cold build downloaded %d modules, rebuild after adding one %d", mode, cold.packages, rebuild.packages)
		if cold.packages != 47 {
			t.Errorf("%s cold build downloaded %d modules, want 47 (one download step for both targets)", mode, cold.packages)
		}
		want := 48
		if mode == viaSyntax {
			want = 1
		}
		if rebuild.packages != want {
			t.Errorf("%s rebuild downloaded %d modules, want %d", mode, rebuild.packages, want)
		}
	}
	comparePlatforms(t, tars[upstream], tars[viaSyntax], nil, "/usr/local/bin/app")
}

// TestAptAcrossReleases: bookworm and trixie builds on one builder share
// apt's caches (one platform). The archives are shared (the same .deb from
// the same pool is not downloaded again), and neither release's
// `apt-get update` deletes the other's lists, because autocache turns
// APT::List-Cleanup off where it caches them: rebuilding each release after
// the other downloads the new package once and no index. trixie's image is
// upstream's outside the caches. With the hand-written mounts Docker's
// documentation suggests, trixie's update deletes bookworm's lists.
func TestAptAcrossReleases(t *testing.T) {
	e := newEngine(t)
	ns := "e2e-rel-" + e.runID
	build := func(mode, release string, n int, body func(string, int) string, ns, tarOut string) downloads {
		t.Helper()
		dir := t.TempDir()
		writeDockerfile(t, e, dir, mode, body(release, n))
		args := map[string]string{"E2E_RUN": fmt.Sprintf("%s-%s-%d", e.runID, release, n), "BUILDKIT_CACHE_MOUNT_NS": ns}
		d := e.buildCounting(t, "apt", buildSpec{dir: dir, mode: mode, args: args, tarOut: tarOut})
		t.Logf("%s %s, %d packages: downloaded %d .debs, %d index files", mode, release, n, d.packages, d.indexes)
		return d
	}

	steps := []struct {
		release          string
		n                int
		packages         int
		indexes          bool // some index downloaded
		packagesWhy, why string
	}{
		{"bookworm", 5, 5, true, "a cold cache", "a cold cache"},
		{"trixie", 5, 0, true, "bookworm's .debs are the same files", "trixie's suite is new"},
		{"bookworm", 6, 1, false, "only the new package", "did trixie's update delete bookworm's lists?"},
		{"trixie", 6, 0, false, "bookworm's rebuild fetched the new package", "did bookworm's update delete trixie's lists?"},
	}
	trixieTar := filepath.Join(t.TempDir(), "trixie.tar")
	for i, s := range steps {
		out := ""
		if i == len(steps)-1 {
			out = trixieTar
		}
		d := build(viaSyntax, s.release, s.n, aptDockerfile, ns, out)
		if d.packages != s.packages {
			t.Errorf("%s with %d packages downloaded %d .debs, want %d (%s)", s.release, s.n, d.packages, s.packages, s.packagesWhy)
		}
		if s.indexes && d.indexes == 0 {
			t.Errorf("%s with %d packages downloaded no index file, want some (%s)", s.release, s.n, s.why)
		}
		if !s.indexes && d.indexes != 0 {
			t.Errorf("%s with %d packages downloaded %d index files, want none: %s", s.release, s.n, d.indexes, s.why)
		}
	}
	upstreamTar := filepath.Join(t.TempDir(), "upstream.tar")
	build(upstream, "trixie", 6, aptDockerfile, "", upstreamTar)
	compareImages(t, upstreamTar, trixieTar, []string{"/var/cache/apt", "/var/lib/apt/lists"}, volatile)
	if osr := tarFiles(t, trixieTar, "/usr/lib/os-release")["/usr/lib/os-release"]; !strings.Contains(osr, "VERSION_CODENAME=trixie") {
		t.Errorf("the trixie image is not trixie:\n%s", osr)
	}

	t.Run("hand-written mounts", func(t *testing.T) {
		ns := "e2e-rel-hand-" + e.runID
		build(upstream, "bookworm", 5, handWrittenAptDockerfile, ns, "")
		build(upstream, "trixie", 5, handWrittenAptDockerfile, ns, "")
		if d := build(upstream, "bookworm", 6, handWrittenAptDockerfile, ns, ""); d.indexes == 0 {
			t.Errorf("bookworm's rebuild after trixie's downloaded no index: List-Cleanup did not delete its lists, so this test shows nothing")
		}
	})
}

// comparePlatforms compares the two exports of a linux/amd64+arm64 build
// platform by platform (compareImages) and checks that the ELF file elf in
// each of autocache's images is of its platform. It returns autocache's
// per-platform images, keyed by export folder ("linux_arm64").
func comparePlatforms(t *testing.T, upstreamTar, autocacheTar string, cached []string, elf string) map[string]string {
	t.Helper()
	up, ac := splitPlatforms(t, upstreamTar), splitPlatforms(t, autocacheTar)
	for _, p := range []struct{ dir, machine string }{{"linux_amd64", "x86-64"}, {"linux_arm64", "aarch64"}} {
		if up[p.dir] == "" || ac[p.dir] == "" {
			t.Fatalf("no %s image in the export (upstream %v, autocache %v)", p.dir, up, ac)
		}
		compareImages(t, up[p.dir], ac[p.dir], cached, volatile)
		if got := elfMachine(t, ac[p.dir], elf); got != p.machine {
			t.Errorf("%s image: %s is %s, want %s", p.dir, elf, got, p.machine)
		}
	}
	return ac
}

// splitPlatforms splits a multi-platform tar export (one top-level folder
// per platform, "linux_amd64/…") into one tar per platform, keyed by folder.
func splitPlatforms(t *testing.T, file string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	outs := map[string]string{}
	writers := map[string]*tar.Writer{}
	var files []*os.File
	walkTar(t, file, func(h *tar.Header, body io.Reader) {
		plat, rest, _ := strings.Cut(strings.TrimPrefix(h.Name, "./"), "/")
		if rest == "" {
			return // the platform folder itself
		}
		w := writers[plat]
		if w == nil {
			outs[plat] = filepath.Join(dir, plat+".tar")
			o, err := os.Create(outs[plat])
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, o)
			w = tar.NewWriter(o)
			writers[plat] = w
		}
		h.Name = rest
		if h.Typeflag == tar.TypeLink {
			_, h.Linkname, _ = strings.Cut(strings.TrimPrefix(h.Linkname, "./"), "/")
		}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, body); err != nil {
			t.Fatal(err)
		}
	})
	for _, w := range writers {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range files {
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return outs
}

// elfMachine names the architecture of an ELF file in an exported image.
func elfMachine(t *testing.T, file, name string) string {
	t.Helper()
	b := tarFiles(t, file, name)[name]
	if len(b) < 20 || string(b[:4]) != "\x7fELF" {
		t.Fatalf("%s in %s is not an ELF file", name, file)
	}
	switch m := binary.LittleEndian.Uint16([]byte(b[18:20])); m {
	case 0x3e:
		return "x86-64"
	case 0xb7:
		return "aarch64"
	default:
		return fmt.Sprintf("machine %#x", m)
	}
}
