package cachesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// dirStore is a directory: one archive per cache (ArchiveName) and the
// index (IndexFile), written last. An export replaces what the directory
// held: archives are written under temporary names, then renamed into
// place, then the index is replaced, then the archives of the old index
// that the new one lacks are removed.
type dirStore struct {
	dir     string
	tmp     string            // temporary directory inside dir (export)
	written map[string]string // archive name → temporary file
}

func (d *dirStore) String() string { return d.dir }

func (d *dirStore) index(ctx context.Context) (Index, error) {
	b, err := os.ReadFile(filepath.Join(d.dir, IndexFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, err2 := os.Stat(d.dir); err2 != nil {
				return Index{}, fmt.Errorf("%s: %w", d.dir, err2)
			}
			return Index{}, fmt.Errorf("%s has no %s: not a directory of exported caches", d.dir, IndexFile)
		}
		return Index{}, err
	}
	idx, err := parseIndex(b, filepath.Join(d.dir, IndexFile))
	if err != nil {
		return idx, err
	}
	for _, e := range idx.Caches {
		if e.Archive == "" {
			return idx, fmt.Errorf("%s: cache %s has no archive", filepath.Join(d.dir, IndexFile), e.Cache)
		}
	}
	return idx, nil
}

// fetch: the archive is already a local file.
func (d *dirStore) fetch(ctx context.Context, e Entry) (string, string, func(), error) {
	p := filepath.Join(d.dir, e.Archive)
	if err := verifyFile(p, e); err != nil {
		return "", "", nil, err
	}
	return d.dir, e.Archive, func() {}, nil
}

func (d *dirStore) begin() error {
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(d.dir, ".autocache-export-")
	if err != nil {
		return err
	}
	d.tmp, d.written = tmp, map[string]string{}
	return nil
}

func (d *dirStore) create() (*os.File, error) { return os.CreateTemp(d.tmp, "archive-") }

func (d *dirStore) add(ctx context.Context, e *Entry, f string) error {
	e.Archive = ArchiveName(e.Cache)
	d.written[e.Archive] = f
	return nil
}

func (d *dirStore) commit(ctx context.Context, idx Index) error {
	var old Index
	if b, err := os.ReadFile(filepath.Join(d.dir, IndexFile)); err == nil {
		_ = json.Unmarshal(b, &old)
	}
	for name, f := range d.written {
		if err := os.Rename(f, filepath.Join(d.dir, name)); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(d.tmp, IndexFile)
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(d.dir, IndexFile)); err != nil {
		return err
	}
	for _, e := range old.Caches {
		if _, ok := d.written[e.Archive]; !ok && e.Archive != "" && !strings.ContainsAny(e.Archive, `/\`) {
			os.Remove(filepath.Join(d.dir, e.Archive))
		}
	}
	return os.RemoveAll(d.tmp)
}

func (d *dirStore) abort() {
	if d.tmp != "" {
		os.RemoveAll(d.tmp)
	}
}
