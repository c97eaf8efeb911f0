package pkgserver

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGoproxyProtocol(t *testing.T) {
	s, base := start(t)
	mod := base + "/goproxy/acpkg.test/m005"
	for _, c := range []struct{ path, want string }{
		{"/@v/list", "v1.0.0\n"},
		{"/@v/v1.0.0.info", `{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}` + "\n"},
		{"/@latest", `{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}` + "\n"},
		{"/@v/v1.0.0.mod", "module acpkg.test/m005\n\ngo 1.16\n"},
	} {
		if code, _, body := get(t, "GET", mod+c.path); code != 200 || string(body) != c.want {
			t.Errorf("%s = %d %q, want %q", c.path, code, body, c.want)
		}
	}
	code, _, body := get(t, "GET", mod+"/@v/v1.0.0.zip")
	if code != 200 {
		t.Fatalf("zip: %d", code)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if want := "[acpkg.test/m005@v1.0.0/go.mod acpkg.test/m005@v1.0.0/m005.go acpkg.test/m005@v1.0.0/payload.bin]"; fmt.Sprint(names) != want {
		t.Errorf("zip files = %v, want %s", names, want)
	}
	wantCounts(t, s, 0, 0, 0, 1)

	lines, err := GoSum("acpkg.test/m005@v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, body := get(t, "GET", base+"/goproxy/sumlines?m=acpkg.test/m005"); string(body) != lines {
		t.Errorf("sumlines = %q, want %q", body, lines)
	}
	if _, _, body := get(t, "GET", base+"/goproxy/sumlines"); strings.Count(string(body), "\n") != 2*NumPackages {
		t.Errorf("sumlines (all) has %d lines", strings.Count(string(body), "\n"))
	}
	if _, err := GoSum("acpkg.test/m061"); err == nil {
		t.Error("GoSum(acpkg.test/m061) did not fail")
	}
}

// TestGoClient runs the real go command: go mod download, then go build of
// a program importing the module (resolved through the proxy with
// -mod=mod), whose go.sum must be exactly GoSum's lines.
func TestGoClient(t *testing.T) {
	gobin := client(t, "go")
	s, base := start(t)
	dir := t.TempDir()
	app := filepath.Join(dir, "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{
		"go.mod":  "module example.test/app\n\ngo 1.21\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"acpkg.test/m001\"\n)\n\nfunc main() { fmt.Println(len(m001.Payload)) }\n",
	} {
		if err := os.WriteFile(filepath.Join(app, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gopath := filepath.Join(dir, "gopath")
	// The build cache (GOCACHE) stays the host's: compiling the standard
	// library afresh would take most of the time budget.
	env := environ([]string{"GOFLAGS=", "GOPROXY=", "GONOSUMDB=", "GONOSUMCHECK=", "GONOPROXY=", "GOPRIVATE=",
		"GOSUMDB=", "GOINSECURE=", "GOPATH=", "GOMODCACHE=", "GOWORK=", "GOTOOLCHAIN="},
		"GOPROXY="+base+"/goproxy", "GONOSUMDB=acpkg.test", "GOFLAGS=-mod=mod -modcacherw",
		"GOPATH="+gopath, "GOMODCACHE="+filepath.Join(gopath, "pkg/mod"), "GOWORK=off", "GOTOOLCHAIN=local")

	run(t, app, env, gobin, "mod", "download", "acpkg.test/m001@v1.0.0")
	wantCounts(t, s, 0, 0, 0, 1)
	run(t, app, env, gobin, "build", "-o", "app", ".")
	wantCounts(t, s, 0, 0, 0, 1) // from the module cache now

	gosum, err := os.ReadFile(filepath.Join(app, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := GoSum("acpkg.test/m001")
	if err != nil {
		t.Fatal(err)
	}
	if string(gosum) != want {
		t.Errorf("go wrote go.sum\n%s\nGoSum says\n%s", gosum, want)
	}
	if out := run(t, app, env, filepath.Join(app, "app")); strings.TrimSpace(out) != fmt.Sprint(PayloadSize) {
		t.Errorf("program printed %q, want the payload size", out)
	}
}
