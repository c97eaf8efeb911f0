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
	"os/exec"
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
	python := client(t, "python3")
	if out, err := exec.Command(python, "-m", "pip", "--version").CombinedOutput(); err != nil {
		t.Skipf("pip not installed for %s: %v\n%s", python, err, out)
	}
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
