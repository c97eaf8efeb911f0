package cachesync

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/autocache/autocache/cachearchive"
	"github.com/autocache/autocache/cacheinfo"
)

// Entry is one cache in a directory, layout or image: the cache (how to
// mount it) and its archive.
type Entry struct {
	cacheinfo.Cache
	cachearchive.Stats
	Archive string `json:"archive,omitempty"` // file name in a directory
}

// Index lists the caches of a directory (IndexFile) or image.
type Index struct {
	Version int       `json:"version"`
	Image   string    `json:"image,omitempty"` // the autocache image the export ran
	Created time.Time `json:"created"`
	Caches  []Entry   `json:"caches"`
}

// IndexVersion is the version of Index's format.
const IndexVersion = 1

// IndexFile is the index of a directory.
const IndexFile = "autocache-caches.json"

// ArchiveName is the file of c's archive in a directory.
func ArchiveName(c cacheinfo.Cache) string { return c.DirName() + ".tar.gz" }

// check validates an entry read from a source.
func (e Entry) check() error {
	if err := e.Cache.Validate(); err != nil {
		return err
	}
	if !strings.HasPrefix(e.Digest, "sha256:") || len(e.Digest) != len("sha256:")+64 {
		return fmt.Errorf("cache %s: digest %q is not a sha256 digest", e.ID, e.Digest)
	}
	if e.Size <= 0 || e.Files < 0 || e.Bytes < 0 {
		return fmt.Errorf("cache %s: bad sizes", e.ID)
	}
	if e.Archive != "" && (path.Base(e.Archive) != e.Archive || e.Archive == "." || e.Archive == ".." || strings.ContainsAny(e.Archive, `/\`)) {
		return fmt.Errorf("cache %s: archive %q is not a file name", e.ID, e.Archive)
	}
	return nil
}

// parseIndex reads an index, checking every entry.
func parseIndex(b []byte, where string) (Index, error) {
	var idx Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return idx, fmt.Errorf("%s: not an autocache cache index: %w", where, err)
	}
	if idx.Version != IndexVersion {
		return idx, fmt.Errorf("%s: index format version %d, this autocache reads %d", where, idx.Version, IndexVersion)
	}
	seen := map[string]bool{}
	for _, e := range idx.Caches {
		if err := e.check(); err != nil {
			return idx, fmt.Errorf("%s: %w", where, err)
		}
		if seen[e.Key()] {
			return idx, fmt.Errorf("%s: cache %s listed twice", where, e.Cache)
		}
		seen[e.Key()] = true
	}
	return idx, nil
}
