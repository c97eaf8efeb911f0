package pkgserver

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
)

// The PyPI side is a PEP 503 simple repository (HTML, and PEP 691 JSON by
// content negotiation) at /pypi/simple/, with the wheels at /pypi/files/:
//
//	pip install --index-url http://127.0.0.1:5960/pypi/simple/ acpkg-001
//
// It also serves one project that has only an sdist, acbuild (below), for
// the tests of the wheels pip builds itself.
//
// Caching headers are PyPI's: index pages may be reused for 10 minutes,
// files forever.
const (
	pypiPageCache = "max-age=600, public"
	pypiFileCache = "max-age=365000000, immutable, public"

	pypiHTML = "text/html; charset=utf-8"
	pypiJSON = "application/vnd.pypi.simple.v1+json"
)

// pypiDist is the distribution name as spelled in file names: acpkg_001.
func pypiDist(i int) string { return fmt.Sprintf("acpkg_%03d", i) }

func pypiWheelName(i int) string { return pypiDist(i) + "-" + Version + "-py3-none-any.whl" }

var pep503Sep = regexp.MustCompile(`[-_.]+`)

// pep503Normalize is PEP 503's name normalization.
func pep503Normalize(name string) string {
	return strings.ToLower(pep503Sep.ReplaceAllString(name, "-"))
}

func (s *Server) handlePypi(w http.ResponseWriter, r *http.Request) {
	if !getOrHead(w, r) {
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/pypi/")
	switch {
	case p == "simple" || p == "simple/":
		if p == "simple" {
			http.Redirect(w, r, "/pypi/simple/", http.StatusMovedPermanently)
			return
		}
		s.pypiPage(w, r, pypiIndexPage)
	case strings.HasPrefix(p, "simple/"):
		name := strings.TrimSuffix(strings.TrimPrefix(p, "simple/"), "/")
		norm := pep503Normalize(name)
		i, ok := pkgIndex(norm)
		if (!ok && norm != acbuildName) || strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
		// pip asks for the normalized name with a slash; PyPI redirects
		// anything else there.
		if name != norm || !strings.HasSuffix(p, "/") {
			http.Redirect(w, r, "/pypi/simple/"+norm+"/", http.StatusMovedPermanently)
			return
		}
		if norm == acbuildName {
			s.pypiPage(w, r, acbuildPage)
			return
		}
		s.pypiPage(w, r, func(json bool) (*blob, error) { return pypiProjectPage(i, json) })
	case p == "files/"+acbuildSdistName:
		b, err := acbuildSdist()
		if err != nil {
			serverError(w, err)
			return
		}
		s.serve(w, r, b, pypiFileCache, KindPip)
	case strings.HasPrefix(p, "files/"):
		file := strings.TrimPrefix(p, "files/")
		dist, _, _ := strings.Cut(file, "-")
		i, ok := pkgIndex(dist)
		if !ok || file != pypiWheelName(i) {
			http.NotFound(w, r)
			return
		}
		b, err := pypiWheel(i)
		if err != nil {
			serverError(w, err)
			return
		}
		s.serve(w, r, b, pypiFileCache, KindPip)
	default:
		http.NotFound(w, r)
	}
}

// pypiPage negotiates HTML or JSON (PEP 691) and serves the page.
func (s *Server) pypiPage(w http.ResponseWriter, r *http.Request, page func(json bool) (*blob, error)) {
	accept := r.Header.Get("Accept")
	qj, sj := acceptQ(accept, pypiJSON)
	qh, _ := acceptQ(accept, "text/html")
	qv1, _ := acceptQ(accept, "application/vnd.pypi.simple.v1+html")
	// JSON only when asked for by name and preferred; HTML is the default.
	wantJSON := sj == 3 && qj > 0 && qj > max(qh, qv1)
	b, err := page(wantJSON)
	if err != nil {
		serverError(w, err)
		return
	}
	w.Header().Set("Vary", "Accept")
	s.serve(w, r, b, pypiPageCache, "")
}

func pypiIndexPage(asJSON bool) (*blob, error) {
	key := "pypi/index.html"
	if asJSON {
		key = "pypi/index.json"
	}
	return artifacts.get(key, func() (*blob, error) {
		if asJSON {
			type project struct {
				Name string `json:"name"`
			}
			doc := struct {
				Meta     map[string]string `json:"meta"`
				Projects []project         `json:"projects"`
			}{Meta: map[string]string{"api-version": "1.0"}}
			for i := 1; i <= NumPackages; i++ {
				doc.Projects = append(doc.Projects, project{PackageName(i)})
			}
			doc.Projects = append(doc.Projects, project{acbuildName})
			return jsonBlob(pypiJSON, doc)
		}
		var b strings.Builder
		b.WriteString("<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.0\">\n    <title>Simple index</title>\n  </head>\n  <body>\n")
		for i := 1; i <= NumPackages; i++ {
			fmt.Fprintf(&b, "    <a href=\"%s/\">%[1]s</a>\n", PackageName(i))
		}
		fmt.Fprintf(&b, "    <a href=\"%s/\">%[1]s</a>\n", acbuildName)
		b.WriteString("  </body>\n</html>\n")
		return newBlob(pypiHTML, []byte(b.String())), nil
	})
}

// pypiProjectPage links the one wheel of acpkg-NNN.
func pypiProjectPage(i int, asJSON bool) (*blob, error) {
	return pypiLinksPage(PackageName(i), pypiWheelName(i), func() (*blob, error) { return pypiWheel(i) }, asJSON)
}

// pypiLinksPage is the page of project name, which has one file: it links
// the file relative to the page (../../files/…) so it works under any host,
// with its sha256 fragment.
func pypiLinksPage(name, file string, dl func() (*blob, error), asJSON bool) (*blob, error) {
	key := "pypi/" + name + ".html"
	if asJSON {
		key = "pypi/" + name + ".json"
	}
	return artifacts.get(key, func() (*blob, error) {
		b, err := dl()
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b.data)
		href := "../../files/" + file
		if asJSON {
			type pfile struct {
				Filename string            `json:"filename"`
				URL      string            `json:"url"`
				Hashes   map[string]string `json:"hashes"`
			}
			return jsonBlob(pypiJSON, struct {
				Meta  map[string]string `json:"meta"`
				Name  string            `json:"name"`
				Files []pfile           `json:"files"`
			}{
				Meta:  map[string]string{"api-version": "1.0"},
				Name:  name,
				Files: []pfile{{file, href, map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
			})
		}
		page := fmt.Sprintf(`<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.0">
    <title>Links for %[1]s</title>
  </head>
  <body>
    <h1>Links for %[1]s</h1>
    <a href="%[2]s#sha256=%[3]x">%[4]s</a><br />
  </body>
</html>
`, name, html.EscapeString(href), sum, file)
		return newBlob(pypiHTML, []byte(page)), nil
	})
}

// pypiWheel builds acpkg_NNN-1.0.0-py3-none-any.whl: the package
// (__init__.py, payload.bin) then its .dist-info, whose RECORD lists every
// file with its urlsafe-base64 sha256 and size, as the wheel spec wants.
func pypiWheel(i int) (*blob, error) {
	return artifacts.get("pypi/"+pypiWheelName(i), func() (*blob, error) {
		name, dist := PackageName(i), pypiDist(i)
		info := dist + "-" + Version + ".dist-info/"
		files := []archiveFile{
			{dist + "/__init__.py", []byte(fmt.Sprintf(`"""autocache test package %s: a payload to count downloads by."""
import os

PAYLOAD = os.path.join(os.path.dirname(__file__), "payload.bin")
`, name))},
			{dist + "/payload.bin", payload("pip/" + name)},
			{info + "METADATA", []byte(fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: autocache test package %03d\n", name, Version, i))},
			{info + "WHEEL", []byte("Wheel-Version: 1.0\nGenerator: autocache-pkgserver\nRoot-Is-Purelib: true\nTag: py3-none-any\n")},
		}
		var record strings.Builder
		for _, f := range files {
			sum := sha256.Sum256(f.data)
			fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.data))
		}
		record.WriteString(info + "RECORD,,\n")
		files = append(files, archiveFile{info + "RECORD", []byte(record.String())})
		whl, err := zipStore(files)
		if err != nil {
			return nil, err
		}
		return newBlob("application/octet-stream", whl), nil
	})
}

func jsonBlob(ctype string, v any) (*blob, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return newBlob(ctype, append(b, '\n')), nil
}

// acbuild is the one project with only an sdist: pip must build its wheel
// (with the in-tree PEP 517 backend below: no build dependencies, so it
// builds offline) and keeps what it built in its wheel cache,
// ~/.cache/pip/wheels. The wheel is what a package with an optional native
// dependency builds (PyYAML with libyaml, Pillow with libjpeg, psycopg with
// libpq): tagged for this interpreter and platform (cp311-cp311-linux_x86_64),
// and linked against a system library only where the library was there at
// build time. Such a wheel works in the image it was built in and fails to
// import in an image without the library, and pip, which picks built wheels
// by tag only, would reuse it in any image with the same Python.
const (
	acbuildName      = "acbuild"
	acbuildSdistName = acbuildName + "-" + Version + ".tar.gz"
	// AcbuildLib is the library acbuild's build looks for: libdbus, which
	// python:3.11-slim-poetry has (Debian's python3-poetry depends on
	// python3-secretstorage, which depends on dbus) and python:3.11-slim
	// has not.
	AcbuildLib = "libdbus-1.so.3"
)

// acbuildBackend is backend.py, the build backend in the sdist. Its
// build_wheel writes acbuild/__init__.py one of two ways:
//   - the library is found (ctypes.util.find_library, i.e. ldconfig's cache):
//     LINKED names it and the module loads it at import, as an extension
//     linked against it would; where it is missing, "import acbuild" fails
//     with "libdbus-1.so.3: cannot open shared object file";
//   - not found: LINKED = None, no native part.
//
// It looks at the system, not at Python modules, because pip builds in an
// isolated environment that hides site-packages but not the system's
// libraries, as for the real packages. The tag is computed as bdist_wheel
// does, from the running interpreter: cp311-cp311-linux_x86_64 on glibc
// and musl alike.
var acbuildBackend = `"""PEP 517 build backend of acbuild, an autocache test package (see
integration/pkgserver/pypi.go): the wheel it builds depends on whether the
build machine has ` + AcbuildLib + `, like packages with optional native
dependencies."""
import base64
import ctypes.util
import hashlib
import os
import sys
import sysconfig
import zipfile

NAME, VERSION = "acbuild", "` + Version + `"


def _tag():
    impl = {"cpython": "cp"}.get(sys.implementation.name, sys.implementation.name)
    py = "%s%d%d" % (impl, sys.version_info[0], sys.version_info[1])
    return "%s-%s-%s" % (py, py, sysconfig.get_platform().replace("-", "_").replace(".", "_"))


def _module():
    lib = ctypes.util.find_library("dbus-1")
    if lib is None:
        return '"""acbuild, built without libdbus: no native part."""\nLINKED = None\n'
    return ('"""acbuild, built with %s: loaded at import, as by an extension\n'
            'module linked against it."""\nimport ctypes\n\nLINKED = %r\nctypes.CDLL(LINKED)\n' % (lib, lib))


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    tag = _tag()
    info = "%s-%s.dist-info/" % (NAME, VERSION)
    files = [
        ("acbuild/__init__.py", _module()),
        (info + "METADATA", "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (NAME, VERSION)),
        (info + "WHEEL", "Wheel-Version: 1.0\nGenerator: acbuild-backend\nRoot-Is-Purelib: false\nTag: %s\n" % tag),
    ]
    record = ""
    for name, text in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record += "%s,sha256=%s,%d\n" % (name, digest, len(text.encode()))
    files.append((info + "RECORD", record + info + "RECORD,,\n"))
    whl = "%s-%s-%s.whl" % (NAME, VERSION, tag)
    with zipfile.ZipFile(os.path.join(wheel_directory, whl), "w") as z:
        for name, text in files:
            zi = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            z.writestr(zi, text)
    return whl
`

// acbuildSdist builds acbuild-1.0.0.tar.gz: PKG-INFO, pyproject.toml and
// the backend, under acbuild-1.0.0/.
func acbuildSdist() (*blob, error) {
	return artifacts.get("pypi/"+acbuildSdistName, func() (*blob, error) {
		dir := acbuildName + "-" + Version + "/"
		tgz, err := tarGz([]archiveFile{
			{dir, nil},
			{dir + "PKG-INFO", []byte("Metadata-Version: 2.1\nName: " + acbuildName + "\nVersion: " + Version + "\n")},
			{dir + "pyproject.toml", []byte("[project]\nname = \"" + acbuildName + "\"\nversion = \"" + Version + "\"\n\n" +
				"[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n")},
			{dir + "backend.py", []byte(acbuildBackend)},
		}, gzip.NoCompression)
		if err != nil {
			return nil, err
		}
		return newBlob("application/octet-stream", tgz), nil
	})
}

// acbuildPage is acbuild's project page: the sdist only.
func acbuildPage(asJSON bool) (*blob, error) {
	return pypiLinksPage(acbuildName, acbuildSdistName, acbuildSdist, asJSON)
}
