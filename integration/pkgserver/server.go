// Package pkgserver is the hermetic package registry of the end-to-end
// tests: one HTTP server speaking the apt, PyPI (simple), npm, GOPROXY,
// cargo (sparse index) and Maven repository protocols, each serving 60 packages with incompressible, deterministic
// payloads, and counting how many package files it sent. A rebuild that
// reuses its cache mounts should make those counters stay put.
//
// URL layout (see also GET /):
//
//	/apt/                                     deb [trusted=yes] http://HOST/apt acpkg main (also: trixie)
//	/pypi/simple/                             pip --index-url http://HOST/pypi/simple/
//	/npm/                                     npm --registry http://HOST/npm/
//	/goproxy/                                 GOPROXY=http://HOST/goproxy
//	/goproxy/sumlines?m=acpkg.test/m001       go.sum lines (m repeatable; none = all)
//	/cargo/                                   registry = "sparse+http://HOST/cargo/"
//	/maven/                                   <url>http://HOST/maven/</url>, groupId acpkg
//	GET /stats[?detail=1]                     {"apt":N,"apt-index":N,"pip":N,…,"maven":N[,"files":{path:N}]}
//	POST /stats/reset                         zero the counters; answers the counts it zeroed
package pkgserver

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Counter names, also the JSON keys of /stats.
const (
	KindApt = "apt"
	// KindAptIndex counts apt's index files (Release, Packages, Packages.gz),
	// which apt-get update fetches whole only when it has no valid copy.
	KindAptIndex = "apt-index"
	KindPip      = "pip"
	KindNpm      = "npm"
	KindGo       = "go"
	// yarn and pnpm speak the npm protocol (KindNpm), poetry PyPI's (KindPip).
	KindCargo = "cargo"
	KindMaven = "maven"
)

// Counts is how many package files (.deb, wheel, npm tarball, module zip,
// .crate, .jar) and apt index files
// were sent whole with 200 to a GET. Revalidations (304), HEADs and ranges
// are not downloads and are not counted.
type Counts struct {
	Apt      int `json:"apt"`
	AptIndex int `json:"apt-index"`
	Pip      int `json:"pip"`
	Npm      int `json:"npm"`
	Go       int `json:"go"`
	Cargo    int `json:"cargo"`
	Maven    int `json:"maven"`
	// Files counts per URL path; /stats shows it only with ?detail=1.
	Files map[string]int `json:"files,omitzero"`
}

// Server is the registry. It is an http.Handler; use New.
type Server struct {
	log io.Writer
	mux *http.ServeMux

	mu     sync.Mutex
	counts Counts
}

// New returns a server that logs one line per request to log (nil: quiet).
func New(log io.Writer) *Server {
	s := &Server{log: log, mux: http.NewServeMux(), counts: Counts{Files: map[string]int{}}}
	s.mux.HandleFunc("GET /{$}", s.handleRoot)
	s.mux.HandleFunc("GET /stats", s.handleStats)
	s.mux.HandleFunc("POST /stats/reset", s.handleReset)
	s.mux.HandleFunc("/apt/", s.handleApt)
	s.mux.HandleFunc("/pypi/", s.handlePypi)
	s.mux.HandleFunc("/npm/", s.handleNpm)
	s.mux.HandleFunc("/goproxy/", s.handleGoproxy)
	s.mux.HandleFunc("/cargo/", s.handleCargo)
	s.mux.HandleFunc("/maven/", s.handleMaven)
	return s
}

// Counts returns a copy of the counters.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counts
	c.Files = maps.Clone(s.counts.Files)
	return c
}

// Reset zeroes the counters and returns what they were.
func (s *Server) Reset() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counts
	s.counts = Counts{Files: map[string]int{}}
	return c
}

func (s *Server) count(kind, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch kind {
	case KindApt:
		s.counts.Apt++
	case KindAptIndex:
		s.counts.AptIndex++
	case KindPip:
		s.counts.Pip++
	case KindNpm:
		s.counts.Npm++
	case KindGo:
		s.counts.Go++
	case KindCargo:
		s.counts.Cargo++
	case KindMaven:
		s.counts.Maven++
	}
	s.counts.Files[path]++
}

// ServeHTTP routes the request and logs it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w}
	s.mux.ServeHTTP(rec, r)
	if s.log != nil {
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		fmt.Fprintf(s.log, "%s %s %d %d\n", r.Method, r.URL.RequestURI(), rec.status, rec.bytes)
	}
}

// recorder notes status and size for the log, and calls onOK when a counted
// file gets its 200 header: counting before the body is sent means a client
// that has finished downloading always sees itself in /stats.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	onOK   func()
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
		if code == http.StatusOK && r.onOK != nil {
			r.onOK()
		}
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// blob is one response body with its content type and strong ETag.
type blob struct {
	data  []byte
	ctype string
	etag  string
}

func newBlob(ctype string, data []byte) *blob {
	sum := sha256.Sum256(data)
	return &blob{data: data, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// artifacts holds every deterministic body (package files, indexes) once
// built; they do not depend on the server or the request, so all servers
// in a process share them.
var artifacts memo[*blob]

// serve sends b with ETag, Last-Modified and cacheControl (if any), and
// answers conditional requests with 304 and ranges with 206 as real
// registries do. kind != "" marks a package file, counted on a full 200 GET.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, b *blob, cacheControl, kind string) {
	h := w.Header()
	h.Set("Content-Type", b.ctype)
	h.Set("ETag", b.etag)
	if cacheControl != "" {
		h.Set("Cache-Control", cacheControl)
	}
	if rec, ok := w.(*recorder); ok && kind != "" && r.Method == http.MethodGet {
		path := r.URL.Path
		rec.onOK = func() { s.count(kind, path) }
	}
	http.ServeContent(w, r, "", epoch, bytes.NewReader(b.data))
}

// getOrHead answers 405 to anything else and reports whether to go on.
func getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// serverError reports a failure to build an artifact (a bug: they are
// generated from constants).
func serverError(w http.ResponseWriter, err error) {
	http.Error(w, "pkgserver: "+err.Error(), http.StatusInternalServerError)
}

// acceptQ returns the q-value that an Accept header gives to media type mt,
// and how specifically it was named (3 exact, 2 type/*, 1 */*, 0 not at
// all), following RFC 9110: the most specific matching range wins. An
// empty header accepts everything.
func acceptQ(accept, mt string) (q float64, specificity int) {
	if strings.TrimSpace(accept) == "" {
		return 1, 1
	}
	typ, _, _ := strings.Cut(mt, "/")
	for _, part := range strings.Split(accept, ",") {
		rng, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		spec := 0
		switch {
		case rng == mt:
			spec = 3
		case rng == typ+"/*":
			spec = 2
		case rng == "*/*":
			spec = 1
		}
		if spec <= specificity {
			continue
		}
		q, specificity = 1, spec
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
	}
	return q, specificity
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	b, _ := json.Marshal(v)
	w.Write(append(b, '\n'))
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.forDisplay(s.Counts(), r))
}

func (s *Server) handleReset(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.forDisplay(s.Reset(), r))
}

// forDisplay drops the per-file counts unless ?detail= is true.
func (s *Server) forDisplay(c Counts, r *http.Request) Counts {
	if detail, _ := strconv.ParseBool(r.URL.Query().Get("detail")); !detail {
		c.Files = nil
	}
	return c
}

func (s *Server) handleRoot(w http.ResponseWriter, r *http.Request) {
	host := requestHost(r)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, `autocache pkgserver: %d packages per protocol, acpkg-001 … acpkg-%03d, version %s

apt      deb [trusted=yes] http://%[4]s/apt acpkg main   (bookworm; trixie images: trixie)
pip      pip install --index-url http://%[4]s/pypi/simple/ acpkg-001
npm      npm install --registry http://%[4]s/npm/ acpkg-001
go       GOPROXY=http://%[4]s/goproxy GONOSUMDB=acpkg.test go get acpkg.test/m001@v%[3]s
go.sum   GET /goproxy/sumlines?m=acpkg.test/m001 (m repeatable; none = all)
cargo    [source.crates-io] replace-with = "acpkg"; [source.acpkg] registry = "sparse+http://%[4]s/cargo/"
maven    <mirror><mirrorOf>*</mirrorOf><url>http://%[4]s/maven/</url></mirror>, acpkg:acpkg-001:%[3]s
stats    GET /stats[?detail=1], POST /stats/reset
`, NumPackages, NumPackages, Version, host)
}

// requestHost is the host:port the client used to reach us (Host header),
// falling back to the local address of the connection.
func requestHost(r *http.Request) string {
	if r.Host != "" {
		return r.Host
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a.String()
	}
	return "127.0.0.1"
}
