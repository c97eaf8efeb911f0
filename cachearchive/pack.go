// Package cachearchive packs a cache directory into an archive and unpacks
// an archive into a cache directory without ever leaving it half-written.
// It runs inside the builder: `autocache cache export|import` mount a
// cache by its id in a small build step of the autocache image, whose
// binary runs the helper (Main) on the mounted directory.
//
// An archive is a gzip-compressed tar (OCI layer format) of the cache's
// contents, made and applied with containerd's archive package: owners,
// modes, times, symlinks, hard links and file capabilities survive.
// Unpacking stages the whole archive in a temporary directory inside the
// cache, checks it against what the exporter recorded (digest, size,
// files, bytes), and only then moves each new entry into place with a
// rename; entries the cache already has are kept. An import therefore
// only adds, can be repeated, and a failure at any point before the
// renames leaves the cache as it was.
package cachearchive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/v2/pkg/archive"
	"github.com/containerd/continuity/fs"
	"github.com/klauspost/compress/gzip"
)

// Stats describe an archive.
type Stats struct {
	Files  int64  `json:"files"`  // entries other than directories
	Dirs   int64  `json:"dirs"`   // directories
	Bytes  int64  `json:"bytes"`  // bytes of regular files
	Digest string `json:"digest"` // sha256 of the archive ("sha256:…")
	Size   int64  `json:"size"`   // size of the archive
	DiffID string `json:"diffID"` // sha256 of the uncompressed tar (an OCI layer's diff id)
}

// stagingPrefix names the temporary directories of imports in progress,
// at the top of a cache. Pack leaves them out.
const stagingPrefix = ".autocache-import-"

// Pack writes an archive of dir's contents (not dir itself) to w.
func Pack(ctx context.Context, dir string, w io.Writer) (Stats, error) {
	var st Stats
	compressed := &counter{h: sha256.New()}
	zw, err := gzip.NewWriterLevel(io.MultiWriter(w, compressed), gzip.DefaultCompression)
	if err != nil {
		return st, err
	}
	diff := sha256.New()
	cw := archive.NewChangeWriter(io.MultiWriter(zw, diff), dir)
	seen := map[uint64]bool{} // hard-linked inodes: their data is archived once
	err = fs.Changes(ctx, "", dir, func(k fs.ChangeKind, p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if isStaging(p) {
			if fi.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case fi.IsDir():
			st.Dirs++
		case fi.Mode()&os.ModeSocket != 0:
			return nil // not archived (as containerd's layers)
		default:
			st.Files++
			if fi.Mode().IsRegular() {
				if ino, linked := fs.GetLinkInfo(fi); !linked || !seen[ino] {
					st.Bytes += fi.Size()
					if linked {
						seen[ino] = true
					}
				}
			}
		}
		return cw.HandleChange(k, p, fi, nil)
	})
	if err != nil {
		return st, fmt.Errorf("reading %s: %w", dir, err)
	}
	if err := cw.Close(); err != nil {
		return st, err
	}
	if err := zw.Close(); err != nil {
		return st, err
	}
	st.Digest = "sha256:" + hex.EncodeToString(compressed.h.Sum(nil))
	st.Size = compressed.n
	st.DiffID = "sha256:" + hex.EncodeToString(diff.Sum(nil))
	return st, nil
}

// isStaging says whether p ("/name/…", relative to a cache) is inside an
// import's staging directory.
func isStaging(p string) bool {
	top, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return strings.HasPrefix(top, stagingPrefix)
}

// counter hashes and counts what is written to it.
type counter struct {
	h hash.Hash
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}
