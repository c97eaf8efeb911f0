package pkgserver

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// NumPackages is how many packages each protocol serves: acpkg-001 … acpkg-060.
	NumPackages = 60
	// Version is the only version of every package (Go modules: "v" + Version).
	Version = "1.0.0"
	// PayloadSize is the size of each package's payload file. It is
	// incompressible, so a package download costs about this many bytes
	// whatever compression the client or BuildKit applies.
	PayloadSize = 300 << 10
)

// epoch is the one timestamp everything carries (archive mtimes,
// Last-Modified, registry times), so bytes never depend on when or where
// the server runs.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// PackageName returns the name of package i (1-based): "acpkg-001".
func PackageName(i int) string { return fmt.Sprintf("acpkg-%03d", i) }

// GoModule returns the module path of package i (1-based): "acpkg.test/m001".
func GoModule(i int) string { return fmt.Sprintf("acpkg.test/m%03d", i) }

// pkgIndex parses "acpkg-NNN" (or "acpkg_NNN", the wheel spelling) and
// reports whether it names one of the served packages.
func pkgIndex(name string) (int, bool) {
	var num string
	switch {
	case strings.HasPrefix(name, "acpkg-"):
		num = name[len("acpkg-"):]
	case strings.HasPrefix(name, "acpkg_"):
		num = name[len("acpkg_"):]
	default:
		return 0, false
	}
	return parseNum(num)
}

// moduleIndex parses "acpkg.test/mNNN".
func moduleIndex(path string) (int, bool) {
	num, ok := strings.CutPrefix(path, "acpkg.test/m")
	if !ok {
		return 0, false
	}
	return parseNum(num)
}

func parseNum(s string) (int, bool) {
	if len(s) != 3 || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, _ := strconv.Atoi(s)
	return n, n >= 1 && n <= NumPackages
}

// payload returns PayloadSize bytes of SHA-256 counter stream seeded by
// seed: block k is sha256(seed || 0x00 || uint64be(k)). Deterministic on
// every machine and incompressible.
func payload(seed string) []byte {
	out := make([]byte, 0, PayloadSize+sha256.Size)
	buf := make([]byte, len(seed)+1+8)
	copy(buf, seed)
	for k := uint64(0); len(out) < PayloadSize; k++ {
		binary.BigEndian.PutUint64(buf[len(seed)+1:], k)
		sum := sha256.Sum256(buf)
		out = append(out, sum[:]...)
	}
	return out[:PayloadSize]
}

// memo builds each value once, on first use, and keeps it. Concurrent
// callers of the same key wait for the one build.
type memo[T any] struct {
	mu sync.Mutex
	m  map[string]*memoEntry[T]
}

type memoEntry[T any] struct {
	once sync.Once
	v    T
	err  error
}

func (c *memo[T]) get(key string, build func() (T, error)) (T, error) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*memoEntry[T]{}
	}
	e := c.m[key]
	if e == nil {
		e = &memoEntry[T]{}
		c.m[key] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.v, e.err = build() })
	return e.v, e.err
}

// The archive helpers below write every entry with the same mtime, owner
// and mode, in the order given, and store rather than deflate: the payload
// is incompressible anyway, and stored blocks keep the archive bytes (and so
// npm integrity, pip hashes and apt checksums) independent of the Go
// version's compressor.

type archiveFile struct {
	name string // path inside the archive; a trailing "/" makes a directory
	data []byte
}

// tarGz returns a ustar archive of files, gzipped at the given level.
func tarGz(files []archiveFile, level int) ([]byte, error) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, f := range files {
		h := &tar.Header{
			Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: epoch,
			Typeflag: tar.TypeReg, Uname: "root", Gname: "root", Format: tar.FormatUSTAR,
		}
		if strings.HasSuffix(f.name, "/") {
			h.Mode, h.Size, h.Typeflag = 0o755, 0, tar.TypeDir
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return gzipBytes(tb.Bytes(), level)
}

// gzipBytes compresses data with an empty gzip header (no name, mtime 0).
func gzipBytes(data []byte, level int) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, level)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// zipStore returns a zip of files, all stored (no compression), mode 0644.
func zipStore(files []archiveFile) ([]byte, error) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Store, Modified: epoch}
		h.SetMode(0o644)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
