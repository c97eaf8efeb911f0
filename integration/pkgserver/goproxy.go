package pkgserver

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// The Go side is a module proxy (the GOPROXY protocol) at /goproxy/ for
// acpkg.test/m001 … acpkg.test/m060, each at v1.0.0 only:
//
//	GOPROXY=http://127.0.0.1:5960/goproxy GONOSUMDB=acpkg.test GOFLAGS=-mod=mod
//
// Anything else is 404, which the go command takes as "not here" and
// passes on to the next proxy in GOPROXY. The module paths are all lower
// case, so their escaped form (the !x of the protocol) is themselves and
// any path with "!" in it is simply unknown.
const (
	goVersion   = "v" + Version
	goFileCache = "public, max-age=31536000, immutable"
	goListCache = "public, max-age=60"
)

func (s *Server) handleGoproxy(w http.ResponseWriter, r *http.Request) {
	if !getOrHead(w, r) {
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/goproxy/")
	if p == "sumlines" {
		s.handleSumlines(w, r)
		return
	}
	mod, file, ok := strings.Cut(p, "/@v/")
	if m, latest := strings.CutSuffix(p, "/@latest"); latest {
		mod, file, ok = m, "@latest", true
	}
	i, known := moduleIndex(mod)
	if !ok || !known {
		http.Error(w, "not found: module "+mod+": unknown to the autocache test proxy", http.StatusNotFound)
		return
	}
	var (
		b     *blob
		err   error
		cache = goFileCache
		kind  string
	)
	switch file {
	case "list":
		b, cache = newBlob("text/plain; charset=utf-8", []byte(goVersion+"\n")), goListCache
	case "@latest":
		b, cache = goInfo(), goListCache
	case goVersion + ".info":
		b = goInfo()
	case goVersion + ".mod":
		b = newBlob("text/plain; charset=utf-8", goMod(i))
	case goVersion + ".zip":
		b, err = goZip(i)
		kind = KindGo
	default:
		http.Error(w, fmt.Sprintf("not found: %s@%s: unknown revision", mod, strings.TrimSuffix(file, ".info")), http.StatusNotFound)
		return
	}
	if err != nil {
		serverError(w, err)
		return
	}
	s.serve(w, r, b, cache, kind)
}

func goInfo() *blob {
	return newBlob("application/json", []byte(fmt.Sprintf(`{"Version":%q,"Time":%q}`+"\n", goVersion, epoch.Format("2006-01-02T15:04:05Z"))))
}

// goMod says go 1.16, the first version with //go:embed, so that any
// toolchain the tests' images carry can build it.
func goMod(i int) []byte { return []byte(fmt.Sprintf("module %s\n\ngo 1.16\n", GoModule(i))) }

// goFiles are the module's files, by path relative to the module root,
// sorted: go.mod, one package embedding payload.bin, and payload.bin.
func goFiles(i int) []archiveFile {
	pkg := fmt.Sprintf("m%03d", i)
	src := fmt.Sprintf(`// Package %[1]s is the autocache test module %[2]s. It embeds a payload so
// that downloading and building it is measurable.
package %[1]s

import _ "embed"

// Payload is the module's payload.bin.
//
//go:embed payload.bin
var Payload []byte
`, pkg, GoModule(i))
	return []archiveFile{
		{"go.mod", goMod(i)},
		{pkg + ".go", []byte(src)},
		{"payload.bin", payload("go/" + GoModule(i))},
	}
}

// goZip is the module zip: every file under "module@version/".
func goZip(i int) (*blob, error) {
	return artifacts.get("go/"+GoModule(i), func() (*blob, error) {
		prefix := GoModule(i) + "@" + goVersion + "/"
		var files []archiveFile
		for _, f := range goFiles(i) {
			files = append(files, archiveFile{prefix + f.name, f.data})
		}
		z, err := zipStore(files)
		if err != nil {
			return nil, err
		}
		return newBlob("application/zip", z), nil
	})
}

// GoSum returns the two go.sum lines of a module ("acpkg.test/m001", or
// with "@v1.0.0"), exactly as the go command writes them:
//
//	acpkg.test/m001 v1.0.0 h1:…
//	acpkg.test/m001 v1.0.0/go.mod h1:…
func GoSum(module string) (string, error) {
	path, ver, hasVer := strings.Cut(module, "@")
	i, ok := moduleIndex(path)
	if !ok || (hasVer && ver != goVersion) {
		return "", fmt.Errorf("pkgserver: unknown module %q (want acpkg.test/m001 … acpkg.test/m%03d, %s)", module, NumPackages, goVersion)
	}
	prefix := path + "@" + goVersion + "/"
	var zipped []archiveFile
	for _, f := range goFiles(i) {
		zipped = append(zipped, archiveFile{prefix + f.name, f.data})
	}
	return fmt.Sprintf("%s %s h1:%s\n%s %s/go.mod h1:%s\n",
		path, goVersion, hash1(zipped),
		path, goVersion, hash1([]archiveFile{{"go.mod", goMod(i)}})), nil
}

// hash1 is golang.org/x/mod/sumdb/dirhash.Hash1: sha256 over the sorted
// lines "<sha256 hex>  <name>\n", base64. For a module zip the names carry
// the module@version/ prefix; for go.mod the name is just "go.mod".
func hash1(files []archiveFile) string {
	files = append([]archiveFile(nil), files...)
	sort.Slice(files, func(a, b int) bool { return files[a].name < files[b].name })
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%x  %s\n", sha256.Sum256(f.data), f.name)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// handleSumlines answers GET /goproxy/sumlines?m=acpkg.test/m001&m=… with
// the go.sum lines of each module (all of them without m).
func (s *Server) handleSumlines(w http.ResponseWriter, r *http.Request) {
	mods := r.URL.Query()["m"]
	if len(mods) == 0 {
		for i := 1; i <= NumPackages; i++ {
			mods = append(mods, GoModule(i))
		}
	}
	var out strings.Builder
	for _, m := range mods {
		lines, err := GoSum(m)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		out.WriteString(lines)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(out.String()))
}
