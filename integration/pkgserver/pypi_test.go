package pkgserver

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWheelRecord checks RECORD against the wheel's contents, as
// installers that verify it do.
func TestWheelRecord(t *testing.T) {
	b, err := pypiWheel(7)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b.data), int64(len(b.data)))
	if err != nil {
		t.Fatal(err)
	}
	contents := map[string][]byte{}
	var names []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		contents[f.Name] = data
		names = append(names, f.Name)
	}
	want := []string{"acpkg_007/__init__.py", "acpkg_007/payload.bin", "acpkg_007-1.0.0.dist-info/METADATA",
		"acpkg_007-1.0.0.dist-info/WHEEL", "acpkg_007-1.0.0.dist-info/RECORD"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("wheel files = %v, want %v", names, want)
	}
	lines := strings.Split(strings.TrimSuffix(string(contents["acpkg_007-1.0.0.dist-info/RECORD"]), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("RECORD has %d lines, want %d", len(lines), len(want))
	}
	for _, line := range lines {
		f := strings.Split(line, ",")
		if f[0] == "acpkg_007-1.0.0.dist-info/RECORD" {
			if line != f[0]+",," {
				t.Errorf("RECORD's own line = %q", line)
			}
			continue
		}
		sum := sha256.Sum256(contents[f[0]])
		if wantLine := fmt.Sprintf("%s,sha256=%s,%d", f[0], base64.RawURLEncoding.EncodeToString(sum[:]), len(contents[f[0]])); line != wantLine {
			t.Errorf("RECORD line %q, want %q", line, wantLine)
		}
	}
	if len(contents["acpkg_007/payload.bin"]) != PayloadSize {
		t.Errorf("payload.bin is %d bytes", len(contents["acpkg_007/payload.bin"]))
	}
}

func TestPypiPages(t *testing.T) {
	s, base := start(t)
	code, hdr, body := get(t, "GET", base+"/pypi/simple/acpkg-002/")
	whl, _ := pypiWheel(2)
	sum := sha256.Sum256(whl.data)
	link := fmt.Sprintf(`href="../../files/acpkg_002-1.0.0-py3-none-any.whl#sha256=%x"`, sum)
	if code != 200 || !strings.Contains(string(body), link) || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Errorf("project page: %d %s\n%s", code, hdr.Get("Content-Type"), body)
	}
	if cc := hdr.Get("Cache-Control"); cc != pypiPageCache {
		t.Errorf("page Cache-Control = %q", cc)
	}

	// PEP 691 JSON, as pip asks for it.
	_, hdr, body = get(t, "GET", base+"/pypi/simple/acpkg-002/", "Accept",
		"application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01")
	var doc struct {
		Name  string
		Files []struct {
			Filename, URL string
			Hashes        map[string]string
		}
	}
	if err := json.Unmarshal(body, &doc); err != nil || hdr.Get("Content-Type") != pypiJSON {
		t.Fatalf("JSON page (%s): %v\n%s", hdr.Get("Content-Type"), err, body)
	}
	if doc.Name != "acpkg-002" || len(doc.Files) != 1 || doc.Files[0].Hashes["sha256"] != fmt.Sprintf("%x", sum) {
		t.Errorf("JSON page = %+v", doc)
	}
	if _, _, body := get(t, "GET", base+"/pypi/simple/", "Accept", pypiJSON); !strings.Contains(string(body), `{"name":"acpkg-060"}`) {
		t.Errorf("JSON index = %s", body)
	}

	// Non-normalized names redirect to the normalized page.
	if code, _, body := get(t, "GET", base+"/pypi/simple/ACPKG_002"); code != 200 || !strings.Contains(string(body), link) {
		t.Errorf("ACPKG_002 (after redirect) = %d\n%s", code, body)
	}

	code, hdr, body = get(t, "GET", base+"/pypi/files/acpkg_002-1.0.0-py3-none-any.whl")
	if code != 200 || !bytes.Equal(body, whl.data) || hdr.Get("Cache-Control") != pypiFileCache {
		t.Errorf("wheel: %d, %d bytes, Cache-Control %q", code, len(body), hdr.Get("Cache-Control"))
	}
	wantCounts(t, s, 0, 1, 0, 0)
}

// TestPipClient runs the real pip: download a wheel, then install it from
// the index with the same cache, which must not download it again (pip
// caches http:// indexes only for --trusted-host hosts).
func TestPipClient(t *testing.T) {
	python := pip(t)
	s, base := start(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// --isolated: no pip config files or PIP_* variables from the host.
	common := []string{"--isolated", "--disable-pip-version-check", "--no-input",
		"--cache-dir", filepath.Join(dir, "cache"),
		"--index-url", base + "/pypi/simple/", "--trusted-host", u.Host}
	env := os.Environ()

	run(t, dir, env, python, append(append([]string{"-m", "pip", "download"}, common...),
		"--no-deps", "-d", filepath.Join(dir, "dl"), "acpkg-001")...)
	whl, _ := pypiWheel(1)
	if got, err := os.ReadFile(filepath.Join(dir, "dl", pypiWheelName(1))); err != nil || !bytes.Equal(got, whl.data) {
		t.Fatalf("downloaded wheel: %v (%d bytes)", err, len(got))
	}
	wantCounts(t, s, 0, 1, 0, 0)

	target := filepath.Join(dir, "target")
	run(t, dir, env, python, append(append([]string{"-m", "pip", "install"}, common...), "--target", target, "acpkg-001")...)
	wantCounts(t, s, 0, 1, 0, 0)

	out := run(t, target, env, python, "-c", "import os, acpkg_001; print(os.path.getsize(acpkg_001.PAYLOAD))")
	if strings.TrimSpace(out) != fmt.Sprint(PayloadSize) {
		t.Errorf("installed payload size = %q", out)
	}
}

// TestAcbuildPages: acbuild's page links its sdist (and nothing else) with
// its sha256; the sdist is counted as a pip download and holds what a PEP
// 517 frontend needs; its bytes are pinned.
func TestAcbuildPages(t *testing.T) {
	s, base := start(t)
	sdist, err := acbuildSdist()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(sdist.data)
	link := fmt.Sprintf(`href="../../files/acbuild-1.0.0.tar.gz#sha256=%x"`, sum)
	code, _, body := get(t, "GET", base+"/pypi/simple/acbuild/")
	if code != 200 || !strings.Contains(string(body), link) || strings.Count(string(body), "href=") != 1 {
		t.Errorf("acbuild page: %d\n%s", code, body)
	}
	_, _, body = get(t, "GET", base+"/pypi/simple/acbuild/", "Accept", pypiJSON)
	if !strings.Contains(string(body), `"filename":"acbuild-1.0.0.tar.gz"`) || !strings.Contains(string(body), fmt.Sprintf("%x", sum)) {
		t.Errorf("acbuild JSON page = %s", body)
	}
	for _, accept := range []string{"text/html", pypiJSON} {
		if _, _, body := get(t, "GET", base+"/pypi/simple/", "Accept", accept); !strings.Contains(string(body), "acbuild") {
			t.Errorf("the index (%s) does not list acbuild:\n%s", accept, body)
		}
	}
	for _, p := range []string{"/pypi/files/acbuild-2.0.0.tar.gz", "/pypi/files/acbuild-1.0.0-py3-none-any.whl", "/pypi/simple/acbuild-x/"} {
		if code, _, _ := get(t, "GET", base+p); code != 404 {
			t.Errorf("GET %s = %d, want 404", p, code)
		}
	}
	wantCounts(t, s, 0, 0, 0, 0)
	code, hdr, body := get(t, "GET", base+"/pypi/files/acbuild-1.0.0.tar.gz")
	if code != 200 || !bytes.Equal(body, sdist.data) || hdr.Get("Cache-Control") != pypiFileCache {
		t.Errorf("sdist: %d, %d bytes, Cache-Control %q", code, len(body), hdr.Get("Cache-Control"))
	}
	wantCounts(t, s, 0, 1, 0, 0)

	names := tgzNames(t, sdist.data)
	if want := "[acbuild-1.0.0/ acbuild-1.0.0/PKG-INFO acbuild-1.0.0/pyproject.toml acbuild-1.0.0/backend.py]"; fmt.Sprint(names) != want {
		t.Errorf("sdist files = %v, want %s", names, want)
	}
	// Update only on purpose (TestDeterministic).
	if got := fmt.Sprintf("%x", sum[:8]); got != "2521a62016f33493" {
		t.Errorf("sdist sha256 starts %s", got)
	}
}

// TestAcbuildBuildsWithPip runs the real pip: it downloads acbuild's
// sdist, builds the wheel with the in-tree backend (offline: no build
// dependencies), tags it for this interpreter and platform, and keeps it in
// its wheel cache. A second install with the same cache into another
// target takes that wheel by its tag, without downloading or building:
// pip's behaviour that makes per-image wheel caches necessary.
func TestAcbuildBuildsWithPip(t *testing.T) {
	python := pip(t)
	s, base := start(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	install := func(target string) string {
		t.Helper()
		return run(t, dir, os.Environ(), python, "-m", "pip", "install", "--isolated", "--disable-pip-version-check", "--no-input",
			"--cache-dir", filepath.Join(dir, "cache"), "--index-url", base+"/pypi/simple/", "--trusted-host", u.Host,
			"--target", filepath.Join(dir, target), "acbuild")
	}
	out := install("a")
	if !strings.Contains(out, "Building wheel for acbuild") {
		t.Errorf("pip did not build a wheel:\n%s", out)
	}
	wantCounts(t, s, 0, 1, 0, 0)

	// What the interpreter says the tag and the library are.
	want := strings.Fields(run(t, dir, os.Environ(), python, "-c",
		`import ctypes.util, platform, sys; print("cp%d%d" % sys.version_info[:2], platform.machine(), ctypes.util.find_library("dbus-1"))`))
	tag := fmt.Sprintf("%s-%[1]s-linux_%s", want[0], want[1])
	wheel, err := os.ReadFile(filepath.Join(dir, "a", "acbuild-1.0.0.dist-info", "WHEEL"))
	if err != nil || !strings.Contains(string(wheel), "\nTag: "+tag+"\n") {
		t.Errorf("WHEEL (%v) = %q, want Tag: %s", err, wheel, tag)
	}
	linked := strings.TrimSpace(run(t, filepath.Join(dir, "a"), os.Environ(), python, "-c", "import acbuild; print(acbuild.LINKED)"))
	if linked != want[2] {
		t.Errorf("acbuild.LINKED = %s, want %s (what find_library finds here)", linked, want[2])
	}
	t.Logf("built %s, LINKED %s", tag, linked)

	out = install("b")
	if strings.Contains(out, "Building wheel") {
		t.Errorf("the second install built the wheel again:\n%s", out)
	}
	wantCounts(t, s, 0, 1, 0, 0)
	if got, err := os.ReadFile(filepath.Join(dir, "b", "acbuild", "__init__.py")); err != nil || !bytes.Contains(got, []byte("LINKED = ")) {
		t.Errorf("second install: %v\n%s", err, got)
	}
}

// TestAcbuildBackendVariants calls the backend's build_wheel directly, with
// the library found under a name that does not exist and not found: the
// first wheel's module fails at import the way an extension linked against
// a missing library does, the second has no native part.
func TestAcbuildBackendVariants(t *testing.T) {
	python := client(t, "python3")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "backend.py"), []byte(acbuildBackend), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `import ctypes.util, sys, zipfile
import backend
ctypes.util.find_library = lambda name: sys.argv[1] or None
whl = backend.build_wheel(".")
print(whl)
zipfile.ZipFile(whl).extractall("out")
sys.path.insert(0, "out")
try:
    import acbuild
    print("LINKED", acbuild.LINKED)
except OSError as e:
    print("OSError", e)
`
	for _, c := range []struct{ lib, want string }{
		{"libacmissing.so.9", "OSError libacmissing.so.9: cannot open shared object file: No such file or directory"},
		{"", "LINKED None"},
	} {
		sub := filepath.Join(dir, "variant-"+c.lib)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		out := run(t, sub, environ([]string{"PYTHON"}, "PYTHONPATH="+dir, "PYTHONDONTWRITEBYTECODE=1"), python, "-c", script, c.lib)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "acbuild-1.0.0-cp3") || !strings.HasSuffix(lines[0], "-linux_"+strings.TrimSpace(run(t, sub, nil, "uname", "-m"))+".whl") || lines[1] != c.want {
			t.Errorf("library %q: got\n%s\nwant acbuild-1.0.0-cp3…-linux_<machine>.whl, then %q", c.lib, out, c.want)
		}
	}
}
