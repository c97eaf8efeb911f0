package pkgserver

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNpmPackument(t *testing.T) {
	s, base := start(t)
	tgz, _ := npmTarball(3)
	sum := sha512.Sum512(tgz.data)
	integrity := "sha512-" + base64.StdEncoding.EncodeToString(sum[:])

	for _, c := range []struct {
		accept, ctype string
		full          bool
	}{
		{"", "application/json", true},
		{"application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*", npmAbbreviated, false},
	} {
		code, hdr, body := get(t, "GET", base+"/npm/acpkg-003", "Accept", c.accept, "Host", "example.test:1234")
		var doc struct {
			Name     string
			Time     map[string]string
			DistTags map[string]string `json:"dist-tags"`
			Versions map[string]npmVersion
		}
		if err := json.Unmarshal(body, &doc); err != nil || code != 200 || hdr.Get("Content-Type") != c.ctype {
			t.Fatalf("Accept %q: %d %s %v\n%s", c.accept, code, hdr.Get("Content-Type"), err, body)
		}
		v := doc.Versions["1.0.0"]
		if doc.Name != "acpkg-003" || doc.DistTags["latest"] != "1.0.0" || (doc.Time != nil) != c.full ||
			v.Dist.Tarball != "http://example.test:1234/npm/acpkg-003/-/acpkg-003-1.0.0.tgz" || v.Dist.Integrity != integrity {
			t.Errorf("Accept %q: packument %s", c.accept, body)
		}
		if hdr.Get("Cache-Control") != npmPackumentCache || hdr.Get("ETag") == "" || hdr.Get("Last-Modified") == "" {
			t.Errorf("packument headers %v", hdr)
		}
	}
	code, hdr, _ := get(t, "GET", base+"/npm/acpkg-003/-/acpkg-003-1.0.0.tgz")
	if code != 200 || hdr.Get("Cache-Control") != npmTarballCache {
		t.Errorf("tarball: %d %v", code, hdr)
	}
	wantCounts(t, s, 0, 0, 1, 0)
}

// TestNpmClient runs the real npm: install into a fresh project with a
// fresh cache, then npm ci from the lock file with that cache warm, which
// must fetch no tarball.
func TestNpmClient(t *testing.T) {
	npm := client(t, "npm")
	s, base := start(t)
	dir := t.TempDir()
	proj := filepath.Join(dir, "proj")
	if err := os.MkdirAll(proj, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proj, "package.json"), []byte(`{"name":"t","version":"1.0.0","private":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	userrc, globalrc := filepath.Join(dir, "npmrc"), filepath.Join(dir, "global-npmrc")
	for _, rc := range []string{userrc, globalrc} {
		if err := os.WriteFile(rc, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// No host npmrc (user or global) or npm_config_* variables.
	env := environ([]string{"npm_config_", "NPM_CONFIG_"})
	args := []string{"--registry", base + "/npm/", "--cache", filepath.Join(dir, "cache"),
		"--userconfig", userrc, "--globalconfig", globalrc, "--no-audit", "--no-fund", "--no-update-notifier"}

	run(t, proj, env, npm, append([]string{"install", "acpkg-001", "acpkg-002"}, args...)...)
	wantCounts(t, s, 0, 0, 2, 0)
	st, err := os.Stat(filepath.Join(proj, "node_modules/acpkg-001/payload.bin"))
	if err != nil || st.Size() != PayloadSize {
		t.Fatalf("installed payload: %v", err)
	}
	lock, err := os.ReadFile(filepath.Join(proj, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lf struct {
		Packages map[string]struct{ Resolved, Integrity string }
	}
	if err := json.Unmarshal(lock, &lf); err != nil {
		t.Fatal(err)
	}
	tgz, _ := npmTarball(1)
	sum := sha512.Sum512(tgz.data)
	if p := lf.Packages["node_modules/acpkg-001"]; p.Integrity != "sha512-"+base64.StdEncoding.EncodeToString(sum[:]) ||
		p.Resolved != base+"/npm/acpkg-001/-/acpkg-001-1.0.0.tgz" {
		t.Errorf("lock entry %+v", p)
	}

	if err := os.RemoveAll(filepath.Join(proj, "node_modules")); err != nil {
		t.Fatal(err)
	}
	s.Reset()
	out := run(t, proj, env, npm, append([]string{"ci"}, args...)...)
	wantCounts(t, s, 0, 0, 0, 0)
	if !strings.Contains(out, "added 2 packages") {
		t.Errorf("npm ci: %s", out)
	}
}
