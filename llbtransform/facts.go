package llbtransform

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/autocache/autocache/imagefacts"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// Images is what a transform may learn about the filesystems of a build:
// the frontend reads them through the gateway, tests fake them, and
// `autocache plan` has none. The transform asks each question at most
// once (facts keeps the answers), before it analyses the step that needs
// it; imagefacts makes sense of the bytes. It may ask several Contents
// questions at once: an Images is safe for concurrent use.
//
// A method may return an error wrapping errors.ErrUnsupported when it
// can't read that kind of fact at all: the transform then goes on as
// without Images for it. Any other error is a fault: the step does
// without what needed the answer (its caches, its user), as upstream made
// it, and its progress name says why (Step.Faults).
type Images interface {
	// Accounts reads /etc/passwd and /etc/group from the filesystem a step
	// starts from; rootfs is a definition whose result is that filesystem.
	// With it, steps of named (or numeric) non-root users get caches owned
	// by that user under that user's home.
	Accounts(ctx context.Context, rootfs *pb.Definition) (passwd, group []byte, err error)
	// Contents lists what dir holds in the result of def (the image a
	// lineage starts from): paths relative to dir, recursively; it may stop
	// early but not before it has listed a few dozen entries. A missing dir
	// is no entries and no error. A new cache is mounted only over a
	// directory the image has nothing in (pkgmgr.CacheMount.Skeleton aside);
	// an error means it is not mounted.
	Contents(ctx context.Context, def *pb.Definition, dir string) ([]string, error)
	// OSRelease reads the os-release file (/etc/os-release, else
	// /usr/lib/os-release) of the result of def, the image a lineage starts
	// from. It is asked only for a step whose managers need it
	// (pkgmgr.Questions). Missing or empty content means unknown; an error
	// means unknown with a note.
	OSRelease(ctx context.Context, def *pb.Definition) ([]byte, error)
}

// facts is the one cache of Options.Images' answers, for one transform:
// accounts per root filesystem, contents per image and directory,
// os-release per image.
type facts struct {
	images   Images                          // nil: nothing is known
	def      func(*pb.Input) *pb.Definition  // the part of the output so far that builds an input
	renamed  map[digest.Digest]digest.Digest // old digest → new digest
	accounts map[string]accountFiles         // by root filesystem input
	listed   map[string]contentsAnswer       // by image and directory
	releases map[digest.Digest]releaseAnswer // by image
}

func newFacts(images Images, def func(*pb.Input) *pb.Definition, renamed map[digest.Digest]digest.Digest) *facts {
	return &facts{images: images, def: def, renamed: renamed, accounts: map[string]accountFiles{},
		listed: map[string]contentsAnswer{}, releases: map[digest.Digest]releaseAnswer{}}
}

type accountFiles struct {
	passwd, group []byte
	err           error
}

type contentsAnswer struct {
	entries []string
	err     error
}

type releaseAnswer struct {
	rel imagefacts.OSRelease
	err error
}

// image is the input that builds the output's version of source, an op of
// the input definition.
func (f *facts) image(source digest.Digest) *pb.Input {
	if nd, ok := f.renamed[source]; ok {
		source = nd
	}
	return &pb.Input{Digest: string(source)}
}

// accountFiles reads /etc/passwd and /etc/group of root (nil: scratch, no
// files) once per root.
func (f *facts) accountFiles(ctx context.Context, root *pb.Input) accountFiles {
	if root == nil {
		return accountFiles{}
	}
	key := fmt.Sprintf("%s#%d", root.Digest, root.Index)
	files, ok := f.accounts[key]
	if !ok {
		files.passwd, files.group, files.err = f.images.Accounts(ctx, f.def(root))
		f.accounts[key] = files
	}
	return files
}

// contents lists dir in the result of source, once per (source, dir).
func (f *facts) contents(ctx context.Context, source digest.Digest, dir string) ([]string, error) {
	key := listKey(source, dir)
	a, ok := f.listed[key]
	if !ok {
		a.entries, a.err = f.images.Contents(ctx, f.def(f.image(source)), dir)
		f.listed[key] = a
	}
	return a.entries, a.err
}

func listKey(source digest.Digest, dir string) string { return string(source) + "\x00" + dir }

// prefetch lists the dirs not listed yet in the result of source all at
// once: through the gateway each listing is a round trip (or several), and
// they are independent. The answers are the ones contents would get one
// by one, so the output does not depend on their order; a panic in Images
// is raised again here, where the transform's caller recovers it.
func (f *facts) prefetch(ctx context.Context, source digest.Digest, dirs []string) {
	var todo []string
	for _, dir := range dirs {
		if _, ok := f.listed[listKey(source, dir)]; !ok && !slices.Contains(todo, dir) {
			todo = append(todo, dir)
		}
	}
	if len(todo) < 2 {
		return // one listing gains nothing from a goroutine
	}
	def := f.def(f.image(source))
	answers := make([]contentsAnswer, len(todo))
	panics := make([]any, len(todo))
	var wg sync.WaitGroup
	for i, dir := range todo {
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			answers[i].entries, answers[i].err = f.images.Contents(ctx, def, dir)
		})
	}
	wg.Wait()
	for i, dir := range todo {
		if panics[i] != nil {
			panic(panics[i])
		}
		f.listed[listKey(source, dir)] = answers[i]
	}
}

// release is the os-release of the result of source, read once per image,
// and a note if it could not be read.
func (f *facts) release(ctx context.Context, source digest.Digest) (imagefacts.OSRelease, string) {
	a, ok := f.releases[source]
	if !ok {
		var b []byte
		b, a.err = f.images.OSRelease(ctx, f.def(f.image(source)))
		if a.err == nil {
			a.rel = imagefacts.ParseOSRelease(b)
		}
		f.releases[source] = a
	}
	switch {
	case errors.Is(a.err, errors.ErrUnsupported):
		return imagefacts.OSRelease{}, ""
	case a.err != nil:
		return imagefacts.OSRelease{}, "cannot read /etc/os-release in the base image: " + a.err.Error()
	}
	return a.rel, ""
}
