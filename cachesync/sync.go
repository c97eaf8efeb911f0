package cachesync

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/autocache/autocache/cachearchive"
	"github.com/autocache/autocache/cacheinfo"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Selection says which caches to move. With none of its fields set,
// export takes every cache on the builder whose id has autocache's shape,
// and import everything in the source.
type Selection struct {
	// IDs are cache ids (--id); with Caches or Plan they narrow those down.
	IDs []string
	// Caches are the caches builds reported (--metadata-file), exact
	// (seeds included); Image is the autocache image those builds named.
	Caches []cacheinfo.Cache
	Image  string
	// Plan lists the caches autocache gives a Dockerfile (--dockerfile),
	// resolving base images through the builder for its platform.
	Plan func(ctx context.Context, r llb.ImageMetaResolver, platform string) ([]cacheinfo.Cache, error)
}

// Options of an export or import.
type Options struct {
	Selection
	// Location: a directory, oci-layout://DIR[:TAG] or docker-image://REF.
	Location string
	// Image is the autocache image whose helper makes the copies; "" = the
	// one Selection (export) or the source (import) names.
	Image string
	// MaxSize bounds the total size of the caches moved (export: on the
	// builder; import: unpacked); the largest are left out first, with a
	// note. 0 = no bound.
	MaxSize  int64
	Progress *Progress
}

// Moved is one cache moved.
type Moved struct {
	Cache    cacheinfo.Cache
	Stats    cachearchive.Stats
	Added    int64 // import: entries the builder's cache lacked
	Kept     int64 // import: entries it had
	Duration time.Duration
}

// Skipped is a cache left out, and why.
type Skipped struct {
	Cache  cacheinfo.Cache
	Reason string
}

// Failed is a cache that could not be imported.
type Failed struct {
	Cache cacheinfo.Cache
	Err   error
}

// Summary says what an export or import did.
type Summary struct {
	Export   bool
	Where    string
	Moved    []Moved
	Skipped  []Skipped
	Failed   []Failed
	Duration time.Duration
}

// Export copies caches out of the builder to opt.Location.
func Export(ctx context.Context, b *Builder, opt Options) (*Summary, error) {
	start := time.Now()
	sum := &Summary{Export: true, Where: opt.Location}
	st, err := openStore(opt.Location, b.platform)
	if err != nil {
		return sum, err
	}
	sum.Where = st.String()
	caches, err := b.exportSet(ctx, opt.Selection, sum)
	if err != nil {
		return sum, err
	}
	caches = bound(caches, opt.MaxSize, sum, "on the builder")
	if len(caches) == 0 {
		return sum, nothingTo("export from "+b.addr, sum)
	}
	image := firstOf(opt.Image, opt.Selection.Image)
	if image == "" {
		return sum, errNoImage
	}
	if err := st.begin(); err != nil {
		return sum, fmt.Errorf("%s: %w", st, err)
	}
	committed := false
	defer func() {
		if !committed {
			st.abort()
		}
		b.tidy(ctx)
	}()
	var entries []Entry
	for _, c := range caches {
		t0 := time.Now()
		f, err := st.create()
		if err != nil {
			return sum, err
		}
		f.Close()
		stats, err := b.exportOne(ctx, opt.Progress, image, c.Cache, f.Name())
		if err != nil {
			return sum, err
		}
		e := Entry{Cache: c.Cache, Stats: stats}
		if err := st.add(ctx, &e, f.Name()); err != nil {
			return sum, fmt.Errorf("%s: %w", st, err)
		}
		entries = append(entries, e)
		sum.Moved = append(sum.Moved, Moved{Cache: c.Cache, Stats: stats, Duration: time.Since(t0)})
	}
	idx := Index{Version: IndexVersion, Image: image, Created: time.Now().UTC(), Caches: entries}
	if err := opt.Progress.Step("writing "+st.String(), func() error { return st.commit(ctx, idx) }); err != nil {
		return sum, err
	}
	committed = true
	sum.Duration = time.Since(start)
	return sum, nil
}

// nothingTo is the error of a copy with nothing to copy: it says why.
func nothingTo(what string, sum *Summary) error {
	msg := "no cache to " + what
	for _, s := range sum.Skipped {
		msg += fmt.Sprintf("\n  %s: %s", s.Cache, s.Reason)
	}
	return errors.New(msg)
}

var errNoImage = errors.New("no autocache image to run the copies in: pass --image REF (the image of your # syntax= line) or set AUTOCACHE_IMAGE")

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// sized is a cache and its size.
type sized struct {
	cacheinfo.Cache
	size int64
}

// exportSet picks the caches to export (Selection) from what the builder
// holds.
func (b *Builder) exportSet(ctx context.Context, sel Selection, sum *Summary) ([]sized, error) {
	onBuilder, seeded, err := b.Caches(ctx)
	if err != nil {
		return nil, err
	}
	wanted, err := b.wanted(ctx, sel)
	if err != nil {
		return nil, err
	}
	return pickExport(onBuilder, seeded, wanted, sel.IDs, b.addr, sum)
}

// pickExport picks the caches to export: wanted (nil: every cache on the
// builder), narrowed down to ids if any. A wanted cache the builder lacks
// is skipped with a note; an id that names none is an error.
func pickExport(onBuilder []OnBuilder, seeded []string, wanted []cacheinfo.Cache, ids []string, addr string, sum *Summary) ([]sized, error) {
	have := map[string]OnBuilder{}
	for _, c := range onBuilder {
		have[c.ID] = c
	}
	var out []sized
	var skipped []Skipped
	if wanted == nil {
		for _, c := range onBuilder {
			out = append(out, sized{c.Cache, c.Size})
		}
		for _, id := range seeded {
			skipped = append(skipped, Skipped{Cache: cacheinfo.Cache{ID: id}, Reason: "a non-root step's cache (it has a seed): select it with --metadata-file or --dockerfile, which know its owner"})
		}
	} else {
		for _, c := range wanted {
			switch {
			case c.Seed && contains(seeded, c.ID):
				out = append(out, sized{c, 0})
			case !c.Seed && have[c.ID].ID != "":
				out = append(out, sized{c, have[c.ID].Size})
			default:
				skipped = append(skipped, Skipped{Cache: c, Reason: "not on the builder (the step never ran there, or its cache was collected)"})
			}
		}
	}
	if len(ids) == 0 {
		sum.Skipped = append(sum.Skipped, skipped...)
		return out, nil
	}
	var picked []sized
	for _, id := range ids {
		n := 0
		for _, c := range out {
			if c.ID == id {
				picked = append(picked, c)
				n++
			}
		}
		if n > 0 {
			continue
		}
		switch {
		case wanted == nil && contains(seeded, id):
			return nil, fmt.Errorf("cache %s on %s is a non-root step's cache (it has a seed): select it with --metadata-file or --dockerfile, which know its owner", id, addr)
		case wanted != nil && len(cacheinfo.Find(wanted, id)) > 0:
			return nil, fmt.Errorf("unknown cache id %s: the builds name it, but %s does not have it", id, addr)
		case wanted != nil:
			return nil, fmt.Errorf("unknown cache id %s: not among the caches of --metadata-file/--dockerfile (%s)", id, strings.Join(cacheinfo.IDs(wanted), ", "))
		default:
			return nil, fmt.Errorf("unknown cache id %s: %s has no cache mount with that id (of autocache's shape)", id, addr)
		}
	}
	return picked, nil
}

// wanted is the union of Selection.Caches and Selection.Plan's caches;
// nil when neither is given.
func (b *Builder) wanted(ctx context.Context, sel Selection) ([]cacheinfo.Cache, error) {
	if sel.Caches == nil && sel.Plan == nil {
		return nil, nil
	}
	out := slices.Clone(sel.Caches)
	if sel.Plan != nil {
		cs, err := b.plan(ctx, sel.Plan)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	out = cacheinfo.Merge(out)
	if out == nil {
		out = []cacheinfo.Cache{}
	}
	return out, nil
}

// plan runs Selection.Plan with the builder's image resolver.
func (b *Builder) plan(ctx context.Context, fn func(context.Context, llb.ImageMetaResolver, string) ([]cacheinfo.Cache, error)) ([]cacheinfo.Cache, error) {
	var caches []cacheinfo.Cache
	var planErr error
	_, err := b.c.Build(ctx, client.SolveOpt{}, "autocache", func(ctx context.Context, c gateway.Client) (*gateway.Result, error) {
		caches, planErr = fn(ctx, c, platforms.Format(b.platform))
		return gateway.NewResult(), nil
	}, nil)
	if planErr != nil {
		return nil, planErr
	}
	if err != nil {
		return nil, b.wrap(err, "resolving the Dockerfile's base images")
	}
	return caches, nil
}

// bound leaves out the largest caches until the rest fit in max.
func bound(caches []sized, max int64, sum *Summary, where string) []sized {
	if max <= 0 {
		return caches
	}
	sorted := slices.Clone(caches)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].size < sorted[j].size })
	var out []sized
	total := int64(0)
	for _, c := range sorted {
		if total+c.size > max {
			sum.Skipped = append(sum.Skipped, Skipped{Cache: c.Cache, Reason: fmt.Sprintf("%s %s: over --max-size %s (%s taken)", humanSize(c.size), where, humanSize(max), humanSize(total))})
			continue
		}
		total += c.size
		out = append(out, c)
	}
	// Keep the selection's order.
	return slices.DeleteFunc(slices.Clone(caches), func(c sized) bool {
		return !slices.ContainsFunc(out, func(o sized) bool { return o.Key() == c.Key() })
	})
}

// exportOne copies one cache out of the builder into file.
func (b *Builder) exportOne(ctx context.Context, p *Progress, image string, c cacheinfo.Cache, file string) (cachearchive.Stats, error) {
	var stats cachearchive.Stats
	what := "exporting cache " + c.String()
	st, err := b.step(image, c, "[autocache] export cache "+c.String(), []string{"pack", cacheDir, outDir})
	if err != nil {
		return stats, err
	}
	gotStats := false
	err = b.run(ctx, p, what, st, nil, func(tr *tar.Reader) error {
		gotArchive := false
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			switch path.Clean(h.Name) {
			case cachearchive.ArchiveFile:
				f, err := os.OpenFile(file, os.O_WRONLY|os.O_TRUNC, 0)
				if err != nil {
					return err
				}
				_, err = io.Copy(f, tr)
				if err2 := f.Close(); err == nil {
					err = err2
				}
				if err != nil {
					return err
				}
				gotArchive = true
			case cachearchive.StatsFile:
				if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&stats); err != nil {
					return fmt.Errorf("the helper's %s: %w", cachearchive.StatsFile, err)
				}
				gotStats = true
			}
		}
		if !gotArchive || !gotStats {
			return fmt.Errorf("the helper wrote no archive (is %s an autocache image with the cache helper?)", image)
		}
		return nil
	})
	if err != nil {
		return stats, err
	}
	if err := verifyFile(file, Entry{Cache: c, Stats: stats}); err != nil {
		return stats, fmt.Errorf("%s: in transfer: %w", what, err)
	}
	return stats, nil
}

// store is where caches are exported to or imported from.
type store interface {
	String() string
	// export
	begin() error
	create() (*os.File, error)
	add(ctx context.Context, e *Entry, file string) error
	commit(ctx context.Context, idx Index) error
	abort()
	// import
	index(ctx context.Context) (Index, error)
	fetch(ctx context.Context, e Entry) (dir, name string, cleanup func(), err error)
}

// openStore reads a location: a directory, oci-layout://DIR[:TAG] or
// docker-image://REF.
func openStore(loc string, p ocispecs.Platform) (store, error) {
	switch {
	case loc == "":
		return nil, errors.New("no location: give a directory, oci-layout://DIR or docker-image://REF")
	case strings.HasPrefix(loc, "docker-image://"):
		s := strings.TrimPrefix(loc, "docker-image://")
		ref, err := reference.ParseNormalizedNamed(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", loc, err)
		}
		return &ociStore{ref: reference.TagNameOnly(ref).String(), platform: p}, nil
	case strings.HasPrefix(loc, "oci-layout://"):
		dir, tag := strings.TrimPrefix(loc, "oci-layout://"), DefaultTag
		if i := strings.LastIndex(dir, ":"); i >= 0 && !strings.Contains(dir[i:], "/") {
			dir, tag = dir[:i], dir[i+1:]
		}
		if dir == "" || tag == "" {
			return nil, fmt.Errorf("%s: want oci-layout://DIR or oci-layout://DIR:TAG", loc)
		}
		return &ociStore{layout: dir, tag: tag, platform: p}, nil
	case strings.Contains(loc, "://"):
		return nil, fmt.Errorf("%s: unknown kind of location (a directory, oci-layout://DIR or docker-image://REF)", loc)
	}
	return &dirStore{dir: loc}, nil
}
