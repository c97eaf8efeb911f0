//go:build e2e

package integration

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/autocache/autocache/integration/pkgserver"
)

// TestBuiltWheelsStayWithTheirImage: pip builds a wheel from an sdist and
// keeps it in ~/.cache/pip/wheels, then picks it by tag only. The package
// server's acbuild (pkgserver/pypi.go) has only an sdist, and its wheel,
// tagged cp311-cp311-linux_x86_64 in both images, loads libdbus at import
// when the build found it: python:3.11-slim-poetry has libdbus,
// python:3.11-slim has not. Each way of building runs build A on the
// poetry image, then build B on the slim one, with the same RUN:
//
//   - upstream, no cache: both pass, each builds its own wheel;
//   - autocache: both pass; B downloads the sdist 0 times (pip's HTTP cache
//     is shared by every image) but builds its own wheel (wheels/ is per
//     image), and B's image is upstream's outside /root/.cache/pip;
//   - a hand-written shared mount of /root/.cache/pip (what a naive
//     injector would add): B installs A's wheel and fails at import.
func TestBuiltWheelsStayWithTheirImage(t *testing.T) {
	e := newEngine(t)
	const (
		imageA, imageB = "python:3.11-slim-poetry", "python:3.11-slim"
		linkedFile     = "/acbuild-linked"
		module         = "/usr/local/lib/python3.11/dist-packages/acbuild/__init__.py"
	)
	// The same step for autocache and upstream; print what the built module
	// linked, and keep it in the image.
	const install = "pip install acbuild && python -c 'import acbuild; print(\"acbuild.LINKED =\", acbuild.LINKED)' > " + linkedFile + " && cat " + linkedFile
	linkedA := "acbuild.LINKED = " + pkgserver.AcbuildLib
	linkedB := "acbuild.LINKED = None"
	missing := pkgserver.AcbuildLib + ": cannot open shared object file"

	type result struct {
		out       string
		err       error
		downloads int // pip files served during the build: acbuild's sdist
		took      time.Duration
		tar       string // exported filesystem (build B only)
	}
	// build runs one build FROM image of the step, with mount ("" or a
	// hand-written --mount flag) in its RUN, in cache namespace ns.
	build := func(name, mode, image, mount, ns string, export bool) result {
		t.Helper()
		dir := t.TempDir()
		writeDockerfile(t, e, dir, mode, "FROM "+image+"\nARG E2E_RUN\nRUN "+mount+install+"\n")
		r := result{}
		if export {
			r.tar = filepath.Join(t.TempDir(), "image.tar")
		}
		before := e.counts(t)["pip"]
		start := time.Now()
		r.out, r.err = e.build(t, buildSpec{dir: dir, mode: mode, tarOut: r.tar,
			args: map[string]string{"E2E_RUN": e.runID, "BUILDKIT_CACHE_MOUNT_NS": ns}})
		r.took = time.Since(start)
		r.downloads = e.counts(t)["pip"] - before
		t.Logf("%s: %s, downloaded %d sdist(s), %v; pip said:\n  %s", name, r.took.Round(time.Millisecond), r.downloads, r.err,
			strings.Join(pipLines(r.out), "\n  "))
		return r
	}
	// passed checks a build that must pass: it did, downloaded want sdists,
	// and its step printed linked.
	passed := func(name string, r result, want int, linked string) {
		t.Helper()
		if r.err != nil {
			t.Fatalf("%s failed: %v\n%s", name, r.err, tail(r.out, 30))
		}
		if r.downloads != want {
			t.Errorf("%s downloaded acbuild's sdist %d times, want %d", name, r.downloads, want)
		}
		if !strings.Contains(r.out, linked) {
			t.Errorf("%s: the step did not print %q: wrong variant of the wheel?\n%s", name, linked, strings.Join(pipLines(r.out), "\n"))
		}
	}
	built := func(r result) bool { return strings.Contains(r.out, "Building wheel for acbuild") }

	// Upstream, no cache mounts: each build downloads and builds.
	upA := build("upstream A ("+imageA+")", upstream, imageA, "", "e2e-wheels-up-"+e.runID, false)
	passed("upstream A", upA, 1, linkedA)
	upB := build("upstream B ("+imageB+")", upstream, imageB, "", "e2e-wheels-up-"+e.runID, true)
	passed("upstream B", upB, 1, linkedB)

	// autocache: B finds the sdist in the shared HTTP cache, and builds.
	ns := "e2e-wheels-" + e.runID
	acA := build("autocache A ("+imageA+")", viaSyntax, imageA, "", ns, false)
	passed("autocache A", acA, 1, linkedA)
	acB := build("autocache B ("+imageB+")", viaSyntax, imageB, "", ns, true)
	passed("autocache B", acB, 0, linkedB)
	if !built(acB) {
		t.Errorf("autocache B did not build acbuild's wheel: it took a wheel built elsewhere\n%s", strings.Join(pipLines(acB.out), "\n"))
	}
	if !sdistFromCache.MatchString(acB.out) {
		t.Errorf("autocache B did not take the sdist from pip's HTTP cache\n%s", strings.Join(pipLines(acB.out), "\n"))
	}
	excused := compareImages(t, upB.tar, acB.tar, []string{"/root/.cache/pip"}, volatile)
	t.Logf("B, autocache vs upstream: %d differences inside /root/.cache/pip", len(excused))
	for _, r := range []struct {
		name string
		tar  string
	}{{"upstream B", upB.tar}, {"autocache B", acB.tar}} {
		files := tarFiles(t, r.tar, linkedFile, module)
		if got := strings.TrimSpace(files[linkedFile]); got != linkedB {
			t.Errorf("%s: %s = %q, want %q", r.name, linkedFile, got, linkedB)
		}
		if !strings.Contains(files[module], "LINKED = None") {
			t.Errorf("%s: %s is not the variant built without libdbus:\n%s", r.name, module, files[module])
		}
	}

	// The naive shared mount: one wheels/ for both images. B must fail.
	mount := "--mount=type=cache,target=/root/.cache/pip "
	nvA := build("shared mount A ("+imageA+")", upstream, imageA, mount, "e2e-wheels-naive-"+e.runID, false)
	passed("shared mount A", nvA, 1, linkedA)
	nvB := build("shared mount B ("+imageB+")", upstream, imageB, mount, "e2e-wheels-naive-"+e.runID, false)
	switch {
	case nvB.err == nil:
		t.Errorf("shared mount B passed: pip did not reuse the wheel built on %s, so this test shows nothing\n%s", imageA, strings.Join(pipLines(nvB.out), "\n"))
	case !strings.Contains(nvB.out, missing):
		t.Errorf("shared mount B failed, but not with %q:\n%s", missing, tail(nvB.out, 30))
	}
	if built(nvB) || !wheelFromCache.MatchString(nvB.out) {
		t.Errorf("shared mount B did not install the wheel from the cache (built on %s):\n%s", imageA, strings.Join(pipLines(nvB.out), "\n"))
	}
	if nvB.downloads != 0 {
		t.Errorf("shared mount B downloaded the sdist %d times, want 0 (the cached wheel stands in for it)", nvB.downloads)
	}

	t.Logf("summary (sdist downloads, time):\n"+
		"  upstream      A %d %6s   B %d %6s\n  autocache     A %d %6s   B %d %6s\n  shared mount  A %d %6s   B %d %6s (%s)",
		upA.downloads, upA.took.Round(100*time.Millisecond), upB.downloads, upB.took.Round(100*time.Millisecond),
		acA.downloads, acA.took.Round(100*time.Millisecond), acB.downloads, acB.took.Round(100*time.Millisecond),
		nvA.downloads, nvA.took.Round(100*time.Millisecond), nvB.downloads, nvB.took.Round(100*time.Millisecond), errText(nvB.err))
}

// sdistFromCache is pip 23's line for a download answered from its HTTP cache.
var sdistFromCache = regexp.MustCompile(`(?m)Using cached \S*/acbuild-1\.0\.0\.tar\.gz\b`)

// wheelFromCache is pip's line for a wheel taken from its wheel cache.
var wheelFromCache = regexp.MustCompile(`(?m)Using cached acbuild-1\.0\.0-cp3\d+-cp3\d+-linux_\w+\.whl`)

// progressPrefix is what buildctl --progress=plain puts before a step's
// output: "#7 1.234 ".
var progressPrefix = regexp.MustCompile(`^#\d+ (\d+\.\d+ )?`)

// pipLines keeps the step's output lines about acbuild (pip's progress,
// the step's print, the import error), without buildctl's prefix.
func pipLines(out string) []string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if !progressPrefix.MatchString(l) || (!strings.Contains(l, "acbuild") && !strings.Contains(l, "Error")) {
			continue
		}
		keep = append(keep, progressPrefix.ReplaceAllString(l, ""))
	}
	return keep
}

func errText(err error) string {
	if err == nil {
		return "passed"
	}
	return "failed"
}
