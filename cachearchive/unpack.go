package cachearchive

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/containerd/v2/pkg/archive"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"
)

// Expect is what an archive must be, as its exporter recorded it; zero
// values are not checked.
type Expect struct {
	Digest string // sha256 of the archive
	Size   int64  // its size
	DiffID string // sha256 of the uncompressed tar
	Files  int64  // entries other than directories
	Bytes  int64  // bytes of regular files
}

// Result says what an import did.
type Result struct {
	Stats
	Added int64 `json:"added"` // entries (other than directories) the cache did not have
	Kept  int64 `json:"kept"`  // entries it had: left as they were
}

// ErrCorrupt marks an archive that cannot be read whole or does not match
// what its exporter recorded.
var ErrCorrupt = errors.New("corrupt or truncated archive")

// Unpack merges the archive r into the cache directory dir: it stages the
// whole archive in a temporary directory inside dir, checks it against
// want, then renames each entry dir lacks into place. Entries dir has are
// kept; nothing is ever removed from dir. An error before the renames
// leaves dir as it was.
func Unpack(ctx context.Context, dir string, r io.Reader, want Expect) (Result, error) {
	var res Result
	removeStale(dir)
	staging, err := os.MkdirTemp(dir, stagingPrefix)
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(staging)
	// The lock tells other imports into the same cache that this staging
	// directory is in use (removeStale).
	lock, err := os.OpenFile(filepath.Join(staging, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return res, err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return res, fmt.Errorf("locking %s: %w", staging, err)
	}
	tree := filepath.Join(staging, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		return res, err
	}
	if res.Stats, err = extract(ctx, tree, r); err != nil {
		return res, err
	}
	if err := check(res.Stats, want); err != nil {
		return res, err
	}
	res.Added, res.Kept, err = merge(tree, dir)
	return res, err
}

// extract applies the archive r to the empty directory tree.
func extract(ctx context.Context, tree string, r io.Reader) (Stats, error) {
	var st Stats
	compressed := &counter{h: sha256.New()}
	zr, err := gzip.NewReader(io.TeeReader(r, compressed))
	if err != nil {
		return st, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	diff := sha256.New()
	tr := io.TeeReader(zr, diff)
	opts := []archive.ApplyOpt{
		// A cache's files are files: a name starting with .wh. is not an
		// instruction to delete another.
		archive.WithConvertWhiteout(func(*tar.Header, string) (bool, error) { return true, nil }),
		archive.WithFilter(func(h *tar.Header) (bool, error) {
			switch h.Typeflag {
			case tar.TypeDir:
				st.Dirs++
			default:
				st.Files++
				if h.Typeflag == tar.TypeReg {
					st.Bytes += h.Size
				}
			}
			return true, nil
		}),
	}
	if os.Geteuid() != 0 {
		opts = append(opts, archive.WithNoSameOwner())
	}
	if _, err := archive.Apply(ctx, tree, tr, opts...); err != nil {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		return st, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	// The tar ends before the gzip stream does: read on to its end, which
	// checks its CRC and length, and past it (there must be nothing).
	if _, err := io.Copy(io.Discard, tr); err != nil {
		return st, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if _, err := io.Copy(io.Discard, io.TeeReader(r, compressed)); err != nil {
		return st, err
	}
	st.Digest = "sha256:" + hex.EncodeToString(compressed.h.Sum(nil))
	st.Size = compressed.n
	st.DiffID = "sha256:" + hex.EncodeToString(diff.Sum(nil))
	return st, nil
}

// check compares what was read with what the exporter recorded.
func check(got Stats, want Expect) error {
	switch {
	case want.Size != 0 && got.Size != want.Size:
		return fmt.Errorf("%w: %d bytes, the exporter wrote %d", ErrCorrupt, got.Size, want.Size)
	case want.Digest != "" && got.Digest != want.Digest:
		return fmt.Errorf("%w: digest %s, the exporter wrote %s", ErrCorrupt, got.Digest, want.Digest)
	case want.DiffID != "" && got.DiffID != want.DiffID:
		return fmt.Errorf("%w: uncompressed digest %s, the exporter wrote %s", ErrCorrupt, got.DiffID, want.DiffID)
	case want.Files != 0 && got.Files != want.Files:
		return fmt.Errorf("%w: %d files, the exporter wrote %d", ErrCorrupt, got.Files, want.Files)
	case want.Bytes != 0 && got.Bytes != want.Bytes:
		return fmt.Errorf("%w: %d bytes of files, the exporter wrote %d", ErrCorrupt, got.Bytes, want.Bytes)
	}
	return nil
}

// merge moves every entry of tree that dir lacks into dir, by rename:
// a directory dir lacks moves whole, one it has is merged entry by entry,
// and anything else dir has (a file, a symlink, or a directory where the
// archive has a file) is kept. dir's own entries are only ever added to;
// symlinks in dir are never followed. It returns the number of entries
// other than directories added and kept.
func merge(tree, dir string) (added, kept int64, err error) {
	err = filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(tree, p)
		if err != nil || rel == "." {
			return err
		}
		dst := filepath.Join(dir, rel)
		fi, err := os.Lstat(dst)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			n := int64(1)
			if d.IsDir() {
				n = countFiles(p)
			}
			if err := os.Rename(p, dst); err != nil {
				return err
			}
			added += n
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		case err != nil:
			return err
		case d.IsDir() && fi.IsDir():
			return nil // merge inside
		case d.IsDir():
			kept += countFiles(p)
			return filepath.SkipDir
		default:
			kept++
			return nil
		}
	})
	return added, kept, err
}

// countFiles counts the entries other than directories under p.
func countFiles(p string) int64 {
	var n int64
	_ = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// staleAfter is how old a staging directory without a lock file must be
// before another import removes it (its import died before locking).
const staleAfter = 10 * time.Minute

// removeStale removes the staging directories of imports that died (the
// builder went away mid-copy): those whose lock nobody holds.
func removeStale(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || len(e.Name()) <= len(stagingPrefix) || e.Name()[:len(stagingPrefix)] != stagingPrefix {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.OpenFile(filepath.Join(p, "lock"), os.O_RDWR, 0)
		if err != nil {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleAfter {
				os.RemoveAll(p)
			}
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			os.RemoveAll(p)
		}
		f.Close()
	}
}
