package pkgserver

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// start runs a Server on 127.0.0.1 for the test, logging through t.Log.
func start(t *testing.T) (*Server, string) {
	t.Helper()
	s := New(testLog{t})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts.URL
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// get does one request and returns status, headers and body.
func get(t *testing.T, method, url string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// wantKind checks one counter, by its /stats key.
func wantKind(t *testing.T, s *Server, kind string, n int) {
	t.Helper()
	c := s.Counts()
	got := map[string]int{KindApt: c.Apt, KindPip: c.Pip, KindNpm: c.Npm, KindGo: c.Go, KindCargo: c.Cargo, KindMaven: c.Maven}[kind]
	if got != n {
		t.Errorf("%s count = %d, want %d (files %v)", kind, got, n, c.Files)
	}
}

func wantCounts(t *testing.T, s *Server, apt, pip, npm, gomod int) {
	t.Helper()
	c := s.Counts()
	if c.Apt != apt || c.Pip != pip || c.Npm != npm || c.Go != gomod {
		t.Errorf("counts = apt %d pip %d npm %d go %d, want %d %d %d %d (files %v)",
			c.Apt, c.Pip, c.Npm, c.Go, apt, pip, npm, gomod, c.Files)
	}
}

// run runs a client in dir with env, failing the test (with its output)
// if it fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// environ is os.Environ without variables starting with any of drop, plus set.
func environ(drop []string, set ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, d := range drop {
			if strings.HasPrefix(kv, d) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return append(env, set...)
}

func TestStats(t *testing.T) {
	s, url := start(t)
	deb := url + "/apt/" + aptDebPath(1)

	if _, _, body := get(t, "GET", url+"/stats"); string(body) != `{"apt":0,"apt-index":0,"pip":0,"npm":0,"go":0,"cargo":0,"maven":0}`+"\n" {
		t.Errorf("fresh /stats = %q", body)
	}
	code, hdr, _ := get(t, "GET", deb)
	if code != 200 || hdr.Get("ETag") == "" || hdr.Get("Last-Modified") == "" {
		t.Fatalf("GET deb: %d %v", code, hdr)
	}
	// Not downloads: HEAD, revalidations, ranges.
	if code, _, _ := get(t, "HEAD", deb); code != 200 {
		t.Errorf("HEAD = %d", code)
	}
	if code, _, _ := get(t, "GET", deb, "If-None-Match", hdr.Get("ETag")); code != 304 {
		t.Errorf("If-None-Match = %d, want 304", code)
	}
	if code, _, _ := get(t, "GET", deb, "If-Modified-Since", hdr.Get("Last-Modified")); code != 304 {
		t.Errorf("If-Modified-Since = %d, want 304", code)
	}
	if code, _, _ := get(t, "GET", deb, "Range", "bytes=0-99"); code != 206 {
		t.Errorf("Range = %d, want 206", code)
	}
	// Index files are counted apart, as apt-index.
	get(t, "GET", url+"/apt/dists/acpkg/Release")
	wantCounts(t, s, 1, 0, 0, 0)

	if _, _, body := get(t, "GET", url+"/stats"); string(body) != `{"apt":1,"apt-index":1,"pip":0,"npm":0,"go":0,"cargo":0,"maven":0}`+"\n" {
		t.Errorf("/stats = %q", body)
	}
	wantDetail := `{"apt":1,"apt-index":1,"pip":0,"npm":0,"go":0,"cargo":0,"maven":0,"files":{"/apt/dists/acpkg/Release":1,"/apt/` + aptDebPath(1) + `":1}}` + "\n"
	if _, _, body := get(t, "GET", url+"/stats?detail=1"); string(body) != wantDetail {
		t.Errorf("/stats?detail=1 = %q, want %q", body, wantDetail)
	}
	if code, _, _ := get(t, "GET", url+"/stats/reset"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /stats/reset = %d, want 405", code)
	}
	if _, _, body := get(t, "POST", url+"/stats/reset"); string(body) != `{"apt":1,"apt-index":1,"pip":0,"npm":0,"go":0,"cargo":0,"maven":0}`+"\n" {
		t.Errorf("POST /stats/reset = %q, want the counts it zeroed", body)
	}
	if _, _, body := get(t, "GET", url+"/stats?detail=1"); string(body) != `{"apt":0,"apt-index":0,"pip":0,"npm":0,"go":0,"cargo":0,"maven":0,"files":{}}`+"\n" {
		t.Errorf("/stats after reset = %q", body)
	}
}

func TestNotFound(t *testing.T) {
	s, url := start(t)
	for _, p := range []string{
		"/nope",
		"/apt/dists/other/Release",
		"/apt/dists/acpkg/InRelease",
		"/apt/dists/acpkg/main/binary-i386/Packages",
		"/apt/pool/main/a/acpkg-000/acpkg-000_1.0.0_all.deb",
		"/apt/pool/main/a/acpkg-061/acpkg-061_1.0.0_all.deb",
		"/apt/pool/main/b/acpkg-001/acpkg-001_1.0.0_all.deb",
		"/pypi/simple/requests/",
		"/pypi/files/acpkg_001-2.0.0-py3-none-any.whl",
		"/npm/left-pad",
		"/npm/acpkg-001/-/acpkg-001-2.0.0.tgz",
		"/goproxy/acpkg.test/@v/list",
		"/goproxy/acpkg.test/m061/@v/list",
		"/goproxy/golang.org/x/mod/@v/list",
		"/goproxy/acpkg.test/m001/@v/v1.0.1.info",
		"/goproxy/sumlines?m=acpkg.test/m001@v2.0.0",
		"/cargo/se/rd/serde",
		"/cargo/ac/pk/acpkg-061",
		"/cargo/ac/pk/acpkg_001",
		"/cargo/xx/yy/acpkg-001",
		"/cargo/crates/acpkg-001/2.0.0/download",
		"/maven/org/apache/maven/plugins/maven-metadata.xml",
		"/maven/acpkg/acpkg-001/2.0.0/acpkg-001-2.0.0.jar",
		"/maven/acpkg/acpkg-001/1.0.0/acpkg-001-1.0.0-sources.jar",
		"/maven/acpkg/acpkg-061/1.0.0/acpkg-061-1.0.0.pom",
	} {
		if code, _, _ := get(t, "GET", url+p); code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, code)
		}
	}
	wantCounts(t, s, 0, 0, 0, 0)
	wantKind(t, s, KindCargo, 0)
	wantKind(t, s, KindMaven, 0)
}

// TestDeterministic pins the bytes of package files: they must be the same
// on every run and machine, or lock files and go.sum lines written in one
// run would not match the next. Update the constants only on purpose.
func TestDeterministic(t *testing.T) {
	if p := payload("apt/acpkg-001"); len(p) != PayloadSize || fmt.Sprintf("%x", p[:8]) != "be90b3983755cda6" {
		t.Errorf("payload: len %d, starts %x", len(p), p[:8])
	}
	sha := func(b *blob, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b.data)
		return fmt.Sprintf("%x", sum[:8])
	}
	tgz, err := npmTarball(1)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum512(tgz.data)
	gosum, err := GoSum("acpkg.test/m001")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ what, got, want string }{
		{"deb", sha(aptDeb(1)), "ab73c0edf7a1be25"},
		{"wheel", sha(pypiWheel(1)), "5890ae8bf4da26d6"},
		{"npm integrity", "sha512-" + base64.StdEncoding.EncodeToString(sum[:]), "sha512-uPeAurhqy+T1RAMoUIn0Fl1vpXespVrMwu2cdYfx8Q7K/yDq4nQVwTiKSztPa73mxbavAfOpGaEGxGVxeVogkw=="},
		{"module zip", sha(goZip(1)), "59a160c6029e4110"},
		{"crate", sha(cargoCrate(1)), "9fbd2b584793c02a"},
		{"jar", sha(mavenJar(1)), "7c612a641b1c0a61"},
		{"go.sum", gosum, "acpkg.test/m001 v1.0.0 h1:JAr7hPitwPlrAV1W1AbsmJ1BylmIUP8eas5gfVrfCNc=\n" +
			"acpkg.test/m001 v1.0.0/go.mod h1:pKeFTF97BAjFKxZpSxXi1XQIlVV/dGDxw2F9PtL32ZE=\n"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
}

func TestAcceptQ(t *testing.T) {
	for _, c := range []struct {
		accept, mt string
		q          float64
		spec       int
	}{
		{"", "text/html", 1, 1},
		{"text/html", "text/html", 1, 3},
		{"application/json", "text/html", 0, 0},
		{"text/*;q=0.5, */*;q=0.1", "text/html", 0.5, 2},
		{"application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*", "application/json", 0.8, 3},
		{"application/vnd.pypi.simple.v1+json, text/html;q=0.01", pypiJSON, 1, 3},
	} {
		q, spec := acceptQ(c.accept, c.mt)
		if q != c.q || spec != c.spec {
			t.Errorf("acceptQ(%q, %q) = %v, %d; want %v, %d", c.accept, c.mt, q, spec, c.q, c.spec)
		}
	}
}

// tgzNames lists the entry names of a .tar.gz, in order.
func tgzNames(t *testing.T, data []byte) []string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}
