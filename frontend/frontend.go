// Package frontend is the autocache BuildKit frontend: upstream's Dockerfile
// frontend (builder.Build) run with a gateway client whose Solve passes each
// LLB definition through llbtransform before it reaches the solver. Syntax
// forwarding, subrequests, lint, multi-platform and SBOM stay upstream's.
package frontend

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/autocache/autocache/cacheinfo"
	"github.com/autocache/autocache/llbtransform"
	"github.com/autocache/autocache/pkgmgr"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/builder"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
	digest "github.com/opencontainers/go-digest"
	"github.com/pkg/errors"
	fstypes "github.com/tonistiigi/fsutil/types"
)

// Build arguments that control autocache.
const (
	ArgSwitch   = "AUTOCACHE"          // "off" (or false/0/no) disables it
	ArgManagers = "AUTOCACHE_MANAGERS" // comma-separated canonical names
	ArgScope    = "AUTOCACHE_SCOPE"    // tenant scope of the caches autocache adds
	argCacheNS  = "BUILDKIT_CACHE_MOUNT_NS"
	buildArg    = "build-arg:"
)

// Config is what the build's options ask of autocache.
type Config struct {
	Off      bool
	Managers []string // nil = all
	CacheNS  string
	Scope    string // "" = none
}

// maxScope bounds AUTOCACHE_SCOPE; it ends up in every cache id.
const maxScope = 128

// ParseConfig reads the build args. An unknown manager name is an error: a
// typo would otherwise silently disable caching.
func ParseConfig(opts map[string]string) (Config, error) {
	var c Config
	switch strings.ToLower(strings.TrimSpace(opts[buildArg+ArgSwitch])) {
	case "off", "false", "0", "no", "disabled":
		c.Off = true
	}
	c.CacheNS = opts[buildArg+argCacheNS]
	if v, ok := opts[buildArg+ArgScope]; ok {
		scope, err := parseScope(v)
		if err != nil {
			return c, err
		}
		c.Scope = scope
	}
	if v, ok := opts[buildArg+ArgManagers]; ok {
		c.Managers = []string{}
		known := pkgmgr.Names()
		for _, m := range strings.Split(v, ",") {
			m = strings.ToLower(strings.TrimSpace(m))
			if m == "" {
				continue
			}
			if !slices.Contains(known, m) {
				return c, errors.Errorf("%s: unknown package manager %q (known: %s)", ArgManagers, m, strings.Join(known, ", "))
			}
			c.Managers = append(c.Managers, m)
		}
	}
	return c, nil
}

// parseScope validates AUTOCACHE_SCOPE. Set but empty is an error, not "no
// scope": an org-wide --build-arg AUTOCACHE_SCOPE=$TENANT with $TENANT unset
// would otherwise silently share every tenant's caches. The character set
// keeps the id grammar unambiguous ('/' would end the scope) and the id
// usable in `buildctl prune --filter` (no ',' or '=').
func parseScope(v string) (string, error) {
	s := strings.TrimSpace(v)
	if s == "" {
		return "", errors.Errorf("%s is set but empty; leave it unset for no scope", ArgScope)
	}
	if len(s) > maxScope {
		return "", errors.Errorf("%s: %d characters, at most %d", ArgScope, len(s), maxScope)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return "", errors.Errorf("%s %q: only letters, digits, '.', '_' and '-' are allowed, not %q", ArgScope, s, r)
		}
	}
	return s, nil
}

// Build is the frontend's entry point (a client.BuildFunc).
func Build(ctx context.Context, c client.Client) (*client.Result, error) {
	bo := c.BuildOpts()
	cfg, err := ParseConfig(bo.Opts)
	if err != nil {
		return nil, err
	}
	if cfg.Off || !supportsCacheMounts(bo.LLBCaps) {
		return builder.Build(ctx, c)
	}
	rc := &rewritingClient{Client: c}
	rc.opt = llbtransform.Options{CacheNS: cfg.CacheNS, Scope: cfg.Scope, Managers: cfg.Managers, Images: rc,
		Probe: os.Getenv(EnvProbe) == "1"}
	res, err := builder.Build(ctx, rc)
	if err != nil || res == nil {
		return res, err
	}
	rc.report.summarize(ctx, c)
	// Say what was done: buildctl --metadata-file and the build's exporter
	// response carry frontend.* keys.
	res.AddMeta(MetaSteps, []byte(strconv.FormatInt(rc.rewritten.Load(), 10)))
	res.AddMeta(MetaVersion, []byte(Version))
	caches, err := cacheinfo.Encode(bo.Opts[optSource], rc.caches())
	if err != nil {
		return nil, err
	}
	res.AddMeta(MetaCaches, caches)
	res.AddMeta(MetaReads, rc.reads.encode())
	return res, nil
}

// EnvProbe, set to "1" in the frontend process's environment (an ENV of
// a test variant of the frontend image), turns on llbtransform's probe:
// every RUN step gets one more cache mount that nothing reads, so that a
// test suite's steps all go through the rewrite. A test mode for the
// conformance run, not a user feature (docs/probe.md).
const EnvProbe = "AUTOCACHE_PROBE"

// Result metadata keys.
const (
	MetaSteps   = "frontend.autocache.steps"   // number of steps given cache mounts
	MetaVersion = "frontend.autocache.version" // the frontend's version
	// MetaCaches lists the caches the build's steps got, deduplicated, with
	// what it takes to mount each again (cacheinfo.Report, JSON).
	MetaCaches = cacheinfo.MetaKey
)

// optSource is the gateway's option naming the frontend image, as the
// build named it (# syntax=, BUILDKIT_SYNTAX or gateway.v0's source).
const optSource = "source"

// Version is the frontend's version, set by its main package.
var Version = "dev"

func supportsCacheMounts(caps apicaps.CapSet) bool {
	for _, id := range []apicaps.CapID{pb.CapExecMountCache, pb.CapExecMountCacheSharing, pb.CapExecMountSelector, pb.CapFileBase} {
		if caps.Supports(id) != nil {
			return false
		}
	}
	return true
}

// rewritingClient is the gateway client that upstream's builder talks to.
// Only Solve differs: definitions go through llbtransform first. It is
// also the transform's llbtransform.Images: it reads what the transform
// asks about images through the gateway.
type rewritingClient struct {
	client.Client
	opt       llbtransform.Options
	rewritten atomic.Int64 // steps changed, over every Solve
	report    reporter     // what the build output says (report.go)
	reads     readCounts   // round trips for image facts (MetaReads)

	mu     sync.Mutex
	mounts []cacheinfo.Cache      // caches added, over every Solve (platforms solve concurrently)
	inputs map[digest.Digest]bool // ops of the build's frontend inputs

	solvedMu sync.Mutex
	solved   map[string]*solvedRef // by the terminal op of the definition solved (solveRef)
}

// caches lists the caches added so far, deduplicated.
func (r *rewritingClient) caches() []cacheinfo.Cache {
	r.mu.Lock()
	defer r.mu.Unlock()
	return cacheinfo.Merge(r.mounts)
}

// Inputs is the client's Inputs; their ops are remembered so that the
// transform leaves them as the client made them (Options.Inputs).
func (r *rewritingClient) Inputs(ctx context.Context) (map[string]llb.State, error) {
	inputs, err := r.Client.Inputs(ctx)
	if err != nil || len(inputs) == 0 {
		return inputs, err
	}
	ops := map[digest.Digest]bool{}
	for _, name := range slices.Sorted(maps.Keys(inputs)) {
		def, err := inputs[name].Marshal(ctx)
		if err != nil {
			return nil, errors.Wrapf(err, "autocache: cannot read the build's input %q", name)
		}
		for _, dt := range def.Def {
			ops[digest.FromBytes(dt)] = true
		}
	}
	r.mu.Lock()
	maps.Copy(ops, r.inputs) // a new map: Solves in flight keep theirs
	r.inputs = ops
	r.mu.Unlock()
	return inputs, nil
}

func (r *rewritingClient) Solve(ctx context.Context, req client.SolveRequest) (*client.Result, error) {
	if req.Definition != nil {
		base := r.opt
		r.mu.Lock()
		base.Inputs = r.inputs
		r.mu.Unlock()
		opt, off, err := withFileSettings(req.Definition, base)
		if err != nil {
			return nil, err
		}
		if off {
			return r.Client.Solve(ctx, req)
		}
		// Fail open: if the definition can't be rewritten, it is solved as upstream made it.
		if res, err := transform(ctx, req.Definition, opt); err == nil {
			r.report.observe(ctx, r.Client, req.Definition, res)
			if res.Changed {
				req.Definition = res.Def
				for _, s := range res.Steps {
					if s.Rewritten || s.Probed {
						r.rewritten.Add(1)
					}
				}
			}
			r.mu.Lock()
			r.mounts = cacheinfo.Merge(append(r.mounts, cacheinfo.FromSteps(res.Steps)...))
			r.mu.Unlock()
		}
	}
	return r.Client.Solve(ctx, req)
}

// transform is llbtransform.Transform with a panic turned into an error:
// a bug in autocache must cost the caching, never the build. This is the
// one place a panic is recovered: below it (llbtransform, pkgmgr) a panic
// is a bug to see, and here it leaves the whole definition as upstream
// made it.
func transform(ctx context.Context, def *pb.Definition, opt llbtransform.Options) (res *llbtransform.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("llbtransform panicked: %v", p)
		}
	}()
	return llbtransform.Transform(ctx, def, opt)
}

// solveRef builds def (a sub-definition: an image or a step's root
// filesystem) and returns its single result; nil for scratch. Building it
// takes as long as it takes: the build needs that filesystem anyway. Each
// filesystem is solved once per build, however many of its facts are read
// (a listing per cache directory, os-release) and by however many
// platforms' transforms.
func (r *rewritingClient) solveRef(ctx context.Context, def *pb.Definition) (client.Reference, error) {
	key := ""
	if n := len(def.GetDef()); n > 0 {
		key = string(digest.FromBytes(def.Def[n-1])) // the terminal op: what is built
	}
	r.solvedMu.Lock()
	if r.solved == nil {
		r.solved = map[string]*solvedRef{}
	}
	s, ok := r.solved[key]
	if !ok || key == "" {
		s = &solvedRef{}
		r.solved[key] = s
	}
	r.solvedMu.Unlock()
	s.once.Do(func() {
		r.reads.solves.Add(1)
		res, err := r.Client.Solve(ctx, client.SolveRequest{Definition: def, Evaluate: true})
		if err != nil {
			s.err = err
			return
		}
		s.ref, s.err = res.SingleRef()
		if s.ref != nil {
			s.ref = countedRef{Reference: s.ref, n: &r.reads}
		}
	})
	return s.ref, s.err
}

// solvedRef is one filesystem solved for its facts (solveRef).
type solvedRef struct {
	once sync.Once
	ref  client.Reference
	err  error
}

// readTimeout bounds the reads of one answer (Accounts, Contents,
// OSRelease) once its filesystem is built: a read that hangs costs the
// step its caches, not the build.
var readTimeout = time.Minute

// within runs read with readTimeout; if no answer comes in time, it is an
// error that says so (and read is left to end on its own).
func within[T any](ctx context.Context, read func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	type answer struct {
		v   T
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		v, err := read(ctx)
		ch <- answer{v, err}
	}()
	select {
	case a := <-ch:
		return a.v, a.err
	case <-ctx.Done():
		var zero T
		return zero, errors.Errorf("no answer within %s", readTimeout)
	}
}

// Accounts reads /etc/passwd and /etc/group from the filesystem that rootfs
// builds, so that steps of named users get caches they own. A missing
// /etc/group is not an error (numeric groups still resolve).
func (r *rewritingClient) Accounts(ctx context.Context, rootfs *pb.Definition) (passwd, group []byte, err error) {
	r.reads.accounts.Add(1)
	ref, err := r.solveRef(ctx, rootfs)
	if err != nil {
		return nil, nil, err
	}
	if ref == nil {
		return nil, nil, errors.New("no filesystem")
	}
	files, err := within(ctx, func(ctx context.Context) ([2][]byte, error) { return readAccounts(ctx, ref) })
	return files[0], files[1], err
}

// accountsReader is the part of client.Reference that readAccounts uses.
type accountsReader interface {
	fileReader
	dirReader
}

// readAccounts reads /etc/passwd and, if there is one, /etc/group.
func readAccounts(ctx context.Context, ref accountsReader) ([2][]byte, error) {
	passwd, err := ref.ReadFile(ctx, client.ReadRequest{Filename: "/etc/passwd"})
	if err != nil {
		return [2][]byte{}, errors.Wrap(err, "/etc/passwd")
	}
	group, err := ref.ReadFile(ctx, client.ReadRequest{Filename: "/etc/group"})
	if err != nil {
		// The gateway does not say why; a missing file is no groups.
		if ok, err2 := exists(ctx, ref, "/etc/group"); err2 != nil || ok {
			return [2][]byte{}, errors.Wrap(err, "/etc/group")
		}
	}
	return [2][]byte{passwd, group}, nil
}

// Contents lists what dir holds in the filesystem that def builds (a base
// image), so that no cache is mounted over content a step needs.
func (r *rewritingClient) Contents(ctx context.Context, def *pb.Definition, dir string) ([]string, error) {
	r.reads.contents.Add(1)
	ref, err := r.solveRef(ctx, def)
	if err != nil {
		return nil, err
	}
	if ref == nil {
		return nil, nil // scratch
	}
	return within(ctx, func(ctx context.Context) ([]string, error) { return listTree(ctx, ref, dir, 64) })
}

// OSRelease reads the os-release file of the filesystem that def builds
// (a base image), so that pkgmgr knows e.g. which microdnf it has.
func (r *rewritingClient) OSRelease(ctx context.Context, def *pb.Definition) ([]byte, error) {
	r.reads.osRelease.Add(1)
	ref, err := r.solveRef(ctx, def)
	if err != nil {
		return nil, err
	}
	if ref == nil {
		return nil, nil // scratch: unknown
	}
	return within(ctx, func(ctx context.Context) ([]byte, error) { return readOSRelease(ctx, ref) })
}

// fileReader is the part of client.Reference that readOSRelease uses.
type fileReader interface {
	ReadFile(ctx context.Context, req client.ReadRequest) ([]byte, error)
}

// maxOSRelease bounds what is read of an os-release file (they are well
// under 1 KiB; ID and VERSION_ID come first or early).
const maxOSRelease = 16 << 10

// readOSRelease reads /etc/os-release or, failing that (it is usually a
// symlink to it), /usr/lib/os-release (os-release(5)). If neither can be
// read, the error is /etc/os-release's.
func readOSRelease(ctx context.Context, ref fileReader) ([]byte, error) {
	var first error
	for _, name := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		b, err := ref.ReadFile(ctx, client.ReadRequest{Filename: name, Range: &client.FileRange{Length: maxOSRelease}})
		if err == nil {
			return b, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// dirReader is the part of client.Reference that listTree uses.
type dirReader interface {
	ReadDir(ctx context.Context, req client.ReadDirRequest) ([]*fstypes.Stat, error)
}

// listTree lists up to about limit entries under dir, depth first, as
// paths relative to dir. A missing dir has none. Each read is a round trip
// in which BuildKit mounts the filesystem, so a level's directories are
// read at once (readDirs); the entries are then put in depth-first order,
// and a directory that order reaches unread is read then.
func listTree(ctx context.Context, ref dirReader, dir string, limit int) ([]string, error) {
	top, err := ref.ReadDir(ctx, client.ReadDirRequest{Path: dir})
	if err != nil {
		// The gateway does not say why; a missing directory is no content.
		if ok, err2 := exists(ctx, ref, dir); err2 == nil && !ok {
			return nil, nil
		}
		return nil, err
	}
	listed := map[string][]*fstypes.Stat{"": top}
	level, n := []string{""}, len(top)
	for len(level) > 0 && n < limit {
		var next []client.ReadDirRequest
		var rels []string
		for _, rel := range level {
			for _, e := range listed[rel] {
				if os.FileMode(e.Mode).IsDir() {
					rels = append(rels, path.Join(rel, e.Path))
					next = append(next, client.ReadDirRequest{Path: path.Join(dir, rels[len(rels)-1])})
				}
			}
		}
		stats, errs := readDirs(ctx, ref, next)
		for i, rel := range rels {
			if errs[i] != nil {
				return nil, errs[i]
			}
			listed[rel] = stats[i]
			n += len(stats[i])
		}
		level = rels
	}
	var out []string
	var walk func(rel string) error
	walk = func(rel string) error {
		for _, e := range listed[rel] {
			if len(out) >= limit {
				return nil
			}
			p := path.Join(rel, e.Path)
			out = append(out, p)
			if os.FileMode(e.Mode).IsDir() {
				if _, ok := listed[p]; !ok {
					sub, err := ref.ReadDir(ctx, client.ReadDirRequest{Path: path.Join(dir, p)})
					if err != nil {
						return err
					}
					listed[p] = sub
				}
				if err := walk(p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	return out, nil
}

// maxReads bounds the reads of one filesystem in flight at once.
const maxReads = 8

// readDirs makes the reads reqs at once (at most maxReads in flight) and
// gives each one's entries and error, in the order of reqs.
func readDirs(ctx context.Context, ref dirReader, reqs []client.ReadDirRequest) ([][]*fstypes.Stat, []error) {
	stats, errs := make([][]*fstypes.Stat, len(reqs)), make([]error, len(reqs))
	if len(reqs) == 1 {
		stats[0], errs[0] = ref.ReadDir(ctx, reqs[0])
		return stats, errs
	}
	sem := make(chan struct{}, maxReads)
	var wg sync.WaitGroup
	for i, req := range reqs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			stats[i], errs[i] = ref.ReadDir(ctx, req)
		})
	}
	wg.Wait()
	return stats, errs
}

// exists says whether p is in the filesystem: whether each of its parents
// holds the next name. Those reads are made at once; the answer is read
// from the top down, as if they had been made one by one (a parent that
// is missing answers no, whatever the reads below it said).
func exists(ctx context.Context, ref dirReader, p string) (bool, error) {
	p = path.Clean(p)
	var reqs []client.ReadDirRequest
	for q := p; q != "/" && q != "."; q = path.Dir(q) {
		name := path.Base(q)
		if strings.ContainsAny(name, `*?[\`) {
			return false, errors.Errorf("cannot look up %q", p)
		}
		reqs = append(reqs, client.ReadDirRequest{Path: path.Dir(q), IncludePattern: name})
	}
	slices.Reverse(reqs) // from the top
	stats, errs := readDirs(ctx, ref, reqs)
	for i, req := range reqs {
		if errs[i] != nil {
			return false, errs[i]
		}
		if !slices.ContainsFunc(stats[i], func(e *fstypes.Stat) bool { return e.Path == req.IncludePattern }) {
			return false, nil
		}
	}
	return true, nil
}
