package cachesync

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/autocache/autocache/cachearchive"
	"github.com/autocache/autocache/cacheinfo"
	"github.com/moby/buildkit/client/llb"
	"github.com/tonistiigi/fsutil"
)

// Import copies caches from opt.Location into the builder.
func Import(ctx context.Context, b *Builder, opt Options) (*Summary, error) {
	start := time.Now()
	sum := &Summary{Where: opt.Location}
	src, err := openStore(opt.Location, b.platform)
	if err != nil {
		return sum, err
	}
	sum.Where = src.String()
	var idx Index
	if err := opt.Progress.Step("reading "+src.String(), func() (err error) { idx, err = src.index(ctx); return }); err != nil {
		return sum, err
	}
	entries, err := b.importSet(ctx, idx, src.String(), opt.Selection, sum)
	if err != nil {
		return sum, err
	}
	var bounded []sized
	for _, e := range entries {
		bounded = append(bounded, sized{e.Cache, e.Bytes})
	}
	bounded = bound(bounded, opt.MaxSize, sum, "unpacked")
	entries = slices.DeleteFunc(entries, func(e Entry) bool {
		return !slices.ContainsFunc(bounded, func(s sized) bool { return s.Key() == e.Key() })
	})
	if len(entries) == 0 {
		return sum, nothingTo("import from "+src.String(), sum)
	}
	image := firstOf(opt.Image, idx.Image)
	if image == "" {
		return sum, errNoImage
	}
	defer b.tidy(ctx)
	for _, e := range entries {
		t0 := time.Now()
		var res cachearchive.Result
		err := func() error {
			dir, name, cleanup, err := src.fetch(ctx, e)
			if err != nil {
				return err
			}
			defer cleanup()
			res, err = b.importOne(ctx, opt.Progress, image, e, dir, name)
			return err
		}()
		if err != nil {
			sum.Failed = append(sum.Failed, Failed{Cache: e.Cache, Err: err})
			if errors.Is(err, ErrBuilderGone) || ctx.Err() != nil {
				break
			}
			continue
		}
		sum.Moved = append(sum.Moved, Moved{Cache: e.Cache, Stats: res.Stats, Added: res.Added, Kept: res.Kept, Duration: time.Since(t0)})
	}
	sum.Duration = time.Since(start)
	if len(sum.Failed) > 0 {
		var msgs []string
		for _, f := range sum.Failed {
			msgs = append(msgs, f.Err.Error())
		}
		return sum, fmt.Errorf("%d of %d caches not imported (each left as it was on the builder):\n  %s", len(sum.Failed), len(entries), strings.Join(msgs, "\n  "))
	}
	return sum, nil
}

// importSet picks the entries to import (Selection) from the source.
func (b *Builder) importSet(ctx context.Context, idx Index, where string, sel Selection, sum *Summary) ([]Entry, error) {
	wanted, err := b.wanted(ctx, sel)
	if err != nil {
		return nil, err
	}
	return pickImport(idx, where, wanted, sel.IDs, sum)
}

// pickImport picks the entries to import: those of wanted (nil: all),
// narrowed down to ids if any. A wanted cache the source lacks is skipped
// with a note; an id that names none is an error.
func pickImport(idx Index, where string, wanted []cacheinfo.Cache, ids []string, sum *Summary) ([]Entry, error) {
	out := idx.Caches
	var skipped []Skipped
	if wanted != nil {
		out = nil
		for _, c := range wanted {
			i := slices.IndexFunc(idx.Caches, func(e Entry) bool { return e.Key() == c.Key() })
			if i < 0 {
				skipped = append(skipped, Skipped{Cache: c, Reason: "not in " + where})
				continue
			}
			out = append(out, idx.Caches[i])
		}
	}
	if len(ids) == 0 {
		sum.Skipped = append(sum.Skipped, skipped...)
		return out, nil
	}
	var picked []Entry
	for _, id := range ids {
		n := 0
		for _, e := range out {
			if e.ID == id {
				picked = append(picked, e)
				n++
			}
		}
		if n == 0 {
			var have []string
			for _, e := range idx.Caches {
				have = append(have, e.ID)
			}
			if len(have) == 0 {
				have = []string{"nothing"}
			}
			return nil, fmt.Errorf("unknown cache id %s: %s has no such cache (it has: %s)", id, where, strings.Join(have, ", "))
		}
	}
	return picked, nil
}

// importOne copies one archive (dir/name on this machine) into the
// builder's cache.
func (b *Builder) importOne(ctx context.Context, p *Progress, image string, e Entry, dir, name string) (cachearchive.Result, error) {
	var res cachearchive.Result
	what := "importing cache " + e.Cache.String()
	rel := filepath.ToSlash(name)
	local := llb.Local(localName, llb.IncludePatterns([]string{rel}), llb.SharedKeyHint(localName),
		llb.WithCustomName("[autocache] loading the archive of "+e.Cache.String()))
	args := []string{"unpack",
		"--digest", e.Digest, "--size", strconv.FormatInt(e.Size, 10), "--diff-id", e.DiffID,
		"--files", strconv.FormatInt(e.Files, 10), "--bytes", strconv.FormatInt(e.Bytes, 10),
		cacheDir, path.Join(inDir, rel), outDir}
	st, err := b.step(image, e.Cache, "[autocache] import cache "+e.Cache.String(), args, llb.AddMount(inDir, local, llb.Readonly))
	if err != nil {
		return res, err
	}
	fs, err := fsutil.NewFS(dir)
	if err != nil {
		return res, err
	}
	got := false
	err = b.run(ctx, p, what, st, map[string]fsutil.FS{localName: fs}, func(tr *tar.Reader) error {
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if path.Clean(h.Name) == cachearchive.ResultFile {
				if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&res); err != nil {
					return err
				}
				got = true
			}
		}
		if !got {
			return fmt.Errorf("the helper wrote no result (is %s an autocache image with the cache helper?)", image)
		}
		return nil
	})
	return res, err
}
