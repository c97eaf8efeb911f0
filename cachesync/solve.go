package cachesync

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/autocache/autocache/cachearchive"
	"github.com/autocache/autocache/cacheinfo"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/identity"
	"github.com/moby/buildkit/util/grpcerrors"
	"github.com/tonistiigi/fsutil"
	"google.golang.org/grpc/codes"
)

// helperPath is the frontend binary in the autocache image.
const helperPath = "/bin/autocache-frontend"

// Mount points of a copy step.
const (
	cacheDir = "/cache"
	outDir   = "/out"
	inDir    = "/in"
)

// localName is the local source that carries an archive into the builder.
const localName = "autocache-import"

// sharingMode is how a copy mounts a cache: shared as shared; locked, and
// private too, as locked, so that a copy waits for the builds using the
// cache instead of getting a new empty one (what a private mount gets
// when all its caches are in use).
func sharingMode(s string) llb.CacheMountSharingMode {
	if s == cacheinfo.Shared {
		return llb.CacheMountShared
	}
	return llb.CacheMountLocked
}

// mountCache mounts c at cacheDir as a build step of autocache does: the
// same id, and for a seeded cache the same seed (a FileOp that BuildKit
// caches by its action, so the same one as the build's).
func mountCache(c cacheinfo.Cache) (llb.RunOption, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []llb.MountOption{llb.AsPersistentCacheDir(c.ID, sharingMode(c.Sharing))}
	src := llb.Scratch()
	if c.Seed {
		mode, err := c.FileMode()
		if err != nil {
			return nil, err
		}
		src = src.File(llb.Mkdir("/cache", mode, llb.WithUIDGID(c.UID, c.GID)), llb.WithCustomName("[internal] setting cache mount permissions"))
		opts = append(opts, llb.SourcePath("/cache"))
	}
	return llb.AddMount(cacheDir, src, opts...), nil
}

// step is a copy step: the helper in the autocache image, with the cache
// mounted and no network; its output is what it writes to outDir. A nonce
// in its environment makes every copy run: llb.IgnoreCache would too, but
// BuildKit releases the cache mounts of a step marked so (what --no-cache
// does), and the copy would see an empty cache.
func (b *Builder) step(image string, c cacheinfo.Cache, name string, args []string, extra ...llb.RunOption) (llb.State, error) {
	m, err := mountCache(c)
	if err != nil {
		return llb.State{}, err
	}
	opts := append([]llb.RunOption{
		llb.Args(append([]string{helperPath, cachearchive.HelperCommand}, args...)),
		llb.Network(llb.NetModeNone),
		llb.AddEnv("AUTOCACHE_COPY", identity.NewID()),
		llb.WithCustomName(name),
		m,
	}, extra...)
	st := llb.Image(image, llb.Platform(b.platform)).Run(opts...)
	return st.AddMount(outDir, llb.Scratch()), nil
}

// run solves st and reads its result through the tar exporter: read gets
// the tar stream of the step's output directory. locals are the local
// sources it reads.
func (b *Builder) run(ctx context.Context, p *Progress, what string, st llb.State, locals map[string]fsutil.FS, read func(*tar.Reader) error) error {
	def, err := st.Marshal(ctx, llb.Platform(b.platform))
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	var readErr error
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		readErr = read(tar.NewReader(pr))
		if readErr == nil {
			_, readErr = io.Copy(io.Discard, pr)
		}
		pr.CloseWithError(readErr)
	}()
	logs := &logTail{}
	ch := make(chan *client.SolveStatus)
	fwdDone := p.forward(ch, logs)
	_, err = b.c.Solve(ctx, def, client.SolveOpt{
		LocalMounts: locals,
		Exports: []client.ExportEntry{{
			Type:   client.ExporterTar,
			Output: func(map[string]string) (io.WriteCloser, error) { return pw, nil },
		}},
	}, ch)
	if err != nil {
		pw.CloseWithError(err)
	} else {
		pw.Close()
	}
	<-readDone
	<-fwdDone
	if err != nil {
		if msg := logs.helperError(); msg != "" {
			return fmt.Errorf("%s: %s", what, msg)
		}
		return b.wrap(err, what)
	}
	if readErr != nil {
		return fmt.Errorf("%s: reading the result: %w", what, readErr)
	}
	return nil
}

// ErrBuilderGone marks errors where the builder could not be reached or
// went away mid-copy.
var ErrBuilderGone = errors.New("the builder went away or cannot be reached")

// wrap names what failed, and says so when the builder went away.
func (b *Builder) wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch grpcerrors.Code(err) {
	case codes.Unavailable, codes.Canceled:
		return fmt.Errorf("%s: %w (%s): %v", what, ErrBuilderGone, b.addr, err)
	}
	s := err.Error()
	for _, gone := range []string{"error reading from server", "connection refused", "transport is closing", "connection reset", "broken pipe"} {
		if strings.Contains(s, gone) {
			return fmt.Errorf("%s: %w (%s): %v", what, ErrBuilderGone, b.addr, err)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// logTail keeps the end of what the steps of a solve printed.
type logTail struct {
	mu  sync.Mutex
	buf []byte
}

const maxLogTail = 64 << 10

func (l *logTail) add(dt []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, dt...)
	if len(l.buf) > maxLogTail {
		l.buf = l.buf[len(l.buf)-maxLogTail:]
	}
}

// helperError is the helper's error message, if it printed one.
func (l *logTail) helperError() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	msg := ""
	for _, line := range bytes.Split(l.buf, []byte("\n")) {
		if i := bytes.Index(line, []byte(cachearchive.ErrorPrefix)); i >= 0 {
			msg = string(bytes.TrimSpace(line[i+len(cachearchive.ErrorPrefix):]))
		}
	}
	return msg
}

// tidy removes what the copies left on the builder besides the caches:
// the archives they wrote (the steps' outputs) and received (local
// sources). BuildKit's garbage collector would, later; a CI runner's disk
// is better off now. Records in use (another copy running) stay; cache
// mounts are never touched.
func (b *Builder) tidy(ctx context.Context) {
	_ = b.c.Prune(ctx, nil, client.WithFilter([]string{
		"type==" + string(client.UsageRecordTypeRegular) + ",description~=" + cachearchive.HelperCommand,
		"type==" + string(client.UsageRecordTypeLocalSource) + ",description~=" + localName,
	}))
}
