// Package llbtransform rewrites a marshalled LLB definition: every ExecOp
// that runs a package manager gets the cache mounts, generated config files,
// argv and env edits that pkgmgr plans for it. Every op that depends on a
// rewritten op is re-digested, and metadata and source locations follow the
// new digests. The same input always gives byte-identical output, and a
// definition with nothing to change comes back as it was.
package llbtransform

import (
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/autocache/autocache/pkgmgr"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/pkg/errors"
)

// Options control a transform.
type Options struct {
	// CacheNS is BUILDKIT_CACHE_MOUNT_NS: cache ids are CacheNS + "/" + target
	// (CacheID), exactly like a hand-written --mount=type=cache,target=… so both
	// share one cache, unless a scope, the platform or the base image is added.
	CacheNS string
	// Scope (AUTOCACHE_SCOPE) keeps the caches autocache adds apart from other
	// scopes' on one builder; "" = none. Its grammar is in CacheID.
	Scope string
	// Managers limits the managers (canonical names); nil means all.
	Managers []string
	// Accounts reads /etc/passwd and /etc/group from the filesystem a step
	// starts from; rootfs is a definition whose result is that filesystem.
	// With it, steps of named (or numeric) non-root users get caches owned
	// by that user under that user's home. nil leaves user names unresolved.
	Accounts func(ctx context.Context, rootfs *pb.Definition) (passwd, group []byte, err error)
	// Contents lists what dir holds in the result of def (the image a
	// lineage starts from): paths relative to dir, recursively; it may stop
	// early but not before it has listed a few dozen entries. A missing dir
	// is no entries and no error. A new cache is mounted only over a
	// directory the image has nothing in (pkgmgr.CacheMount.Skeleton aside);
	// an error means it is not mounted. nil: images are not checked.
	Contents func(ctx context.Context, def *pb.Definition, dir string) ([]string, error)
	// OSRelease reads the os-release file (/etc/os-release, else
	// /usr/lib/os-release) of the result of def, the image a lineage starts
	// from. It is asked at most once per image, and only for a step whose
	// managers need it (pkgmgr.Step.Release). Missing or empty content
	// means unknown; an error means unknown with a note. nil: always unknown.
	OSRelease func(ctx context.Context, def *pb.Definition) ([]byte, error)
}

// Mount is a mount that the transform added to a step.
type Mount struct {
	Type     string // "cache" or "bind"
	Target   string
	ID       string // cache id (cache mounts)
	Sharing  string // cache sharing mode
	UID, GID int    // owner of a new cache directory
	// Seed: the cache starts from a directory owned by UID:GID with Mode
	// (a non-root step's cache), which BuildKit keys apart from the same
	// id without one; mounting the very same cache again takes the same seed.
	Seed     bool
	Mode     os.FileMode // mode of the seed directory (cache mounts)
	Readonly bool
	Manager  string
	Follows  string // the earlier step whose cache this is ("line 5"), if any
}

// Step reports what happened to one ExecOp.
type Step struct {
	Digest    digest.Digest // digest of the op in the output definition
	OldDigest digest.Digest // digest of the op in the input definition
	Managers  []string
	Args      []string // argv as it will run
	Env       []string // env as it will run
	User      string
	Cwd       string
	Rewritten bool    // the plan was applied (mounts, argv or env changed)
	Mounts    []Mount // only the mounts added here
	Notes     []string
	Locations *pb.Locations // Dockerfile locations of the step, if any
}

// Result is a transformed definition and a report of each ExecOp in it.
type Result struct {
	Def     *pb.Definition
	Steps   []Step // one per ExecOp, in definition order
	Changed bool
}

// Transform rewrites def. def itself is never modified. An error means the
// definition could not be read at all; a step whose analysis fails is left
// exactly as it was, with a note (fail open).
func Transform(ctx context.Context, def *pb.Definition, opt Options) (*Result, error) {
	if def == nil || len(def.Def) == 0 {
		return &Result{Def: def}, nil
	}
	ops := make([]decodedOp, len(def.Def))
	for i, dt := range def.Def {
		ops[i] = decodedOp{dgst: digest.FromBytes(dt), dt: dt, op: &pb.Op{}}
		if err := ops[i].op.Unmarshal(dt); err != nil {
			return nil, errors.Wrapf(err, "llbtransform: cannot read op %s", ops[i].dgst)
		}
	}
	t := &transformer{
		opt:      opt,
		keep:     keptPaths(ops),
		renamed:  map[digest.Digest]digest.Digest{},
		seen:     map[digest.Digest]bool{},
		meta:     map[string]*pb.OpMetadata{},
		locs:     map[string]*pb.Locations{},
		emitted:  map[digest.Digest]emitted{},
		accounts: map[string]accountFiles{},
		nodes:    lineageNodes(ops, def),
		lines:    map[digest.Digest]*lineState{},
		listed:   map[string]contentsAnswer{},
		releases: map[digest.Digest]releaseAnswer{},
	}
	for _, o := range ops {
		if err := t.add(ctx, o, def); err != nil {
			return nil, err
		}
	}
	if !t.changed {
		res := &Result{Def: def, Steps: t.steps}
		for i := range res.Steps {
			res.Steps[i].Locations = sourceLocations(def, string(res.Steps[i].Digest))
		}
		return res, nil
	}
	out := &pb.Definition{Def: t.out, Metadata: t.meta}
	if def.Source != nil {
		out.Source = &pb.Source{Infos: def.Source.Infos, Locations: t.locs}
	}
	for i := range t.steps {
		t.steps[i].Locations = t.locs[string(t.steps[i].Digest)]
	}
	return &Result{Def: out, Steps: t.steps, Changed: true}, nil
}

// decodedOp is one op of the input definition.
type decodedOp struct {
	dgst digest.Digest
	dt   []byte
	op   *pb.Op
}

type transformer struct {
	opt      Options
	emitted  map[digest.Digest]emitted       // ops in out, by digest
	accounts map[string]accountFiles         // per rootfs input
	keep     map[digest.Digest][]string      // per ExecOp: paths later ops read from its result
	nodes    map[digest.Digest]*node         // per op of the input: its place in its lineage
	lines    map[digest.Digest]*lineState    // per op of the input: its lineage's state after it
	listed   map[string]contentsAnswer       // Options.Contents answers
	releases map[digest.Digest]releaseAnswer // Options.OSRelease answers, per lineage source
	out      [][]byte
	order    []digest.Digest                 // digests of out, in order
	renamed  map[digest.Digest]digest.Digest // old digest → new digest
	seen     map[digest.Digest]bool          // ops already in out
	meta     map[string]*pb.OpMetadata
	locs     map[string]*pb.Locations
	steps    []Step
	changed  bool
}

// add appends one op of the input to the output, rewritten if it is a
// package-manager step or if any of its inputs were rewritten.
func (t *transformer) add(ctx context.Context, o decodedOp, def *pb.Definition) error {
	// o.op was decoded from def's bytes, so editing it leaves def untouched.
	oldDgst, dt, op := o.dgst, o.dt, o.op
	dirty := false
	for _, inp := range op.Inputs {
		if nd, ok := t.renamed[digest.Digest(inp.Digest)]; ok {
			inp.Digest = string(nd)
			dirty = true
		}
	}
	md := cloneMeta(def.Metadata[string(oldDgst)])
	var step *Step
	st := t.inherit(oldDgst)
	if n := t.nodes[oldDgst]; n != nil {
		st.dirty = append(st.dirty, n.writes...)
	}
	if ex := op.GetExec(); ex != nil {
		s, edited := t.exec(ctx, oldDgst, op, ex, md, st)
		step = &s
		dirty = dirty || edited
	}
	t.lines[oldDgst] = st
	newDgst := oldDgst
	if dirty {
		b, err := op.Marshal()
		if err != nil {
			return errors.Wrapf(err, "llbtransform: cannot marshal op %s", oldDgst)
		}
		dt, newDgst = b, digest.FromBytes(b)
		t.renamed[oldDgst] = newDgst
		t.changed = true
	}
	if step != nil {
		step.OldDigest, step.Digest = oldDgst, newDgst
		t.steps = append(t.steps, *step)
	}
	t.emit(newDgst, dt, op.Inputs, md, sourceLocations(def, string(oldDgst)))
	return nil
}

// emitted is an op of the output.
type emitted struct {
	dt     []byte
	inputs []*pb.Input
}

// emit appends an op to the output once.
func (t *transformer) emit(dgst digest.Digest, dt []byte, inputs []*pb.Input, md *pb.OpMetadata, locs *pb.Locations) {
	if t.seen[dgst] {
		return
	}
	t.seen[dgst] = true
	t.emitted[dgst] = emitted{dt: dt, inputs: inputs}
	t.out = append(t.out, dt)
	t.order = append(t.order, dgst)
	if md != nil {
		t.meta[string(dgst)] = md
	}
	if locs != nil {
		t.locs[string(dgst)] = locs
	}
}

// exec plans one ExecOp and applies the plan to op (and md). It reports
// whether op changed; a step it cannot change is left as it was (fail open).
// st is the step's lineage: exec updates it to what the lineage holds after
// the step.
func (t *transformer) exec(ctx context.Context, dgst digest.Digest, op *pb.Op, ex *pb.ExecOp, md *pb.OpMetadata, st *lineState) (Step, bool) {
	meta := ex.GetMeta()
	step := Step{Args: meta.GetArgs(), Env: meta.GetEnv(), User: meta.GetUser(), Cwd: meta.GetCwd()}
	in := pkgmgr.Step{
		Args: slices.Clone(meta.GetArgs()),
		Env:  slices.Clone(meta.GetEnv()),
		User: meta.GetUser(),
		Cwd:  meta.GetCwd(),
		OS:   op.GetPlatform().GetOS(),
		Keep: t.keep[dgst],
	}
	for _, m := range ex.Mounts {
		if m.Dest != "/" {
			in.Mounts = append(in.Mounts, m.Dest)
		}
	}
	home := t.resolveUser(ctx, op, ex, &in, &step)
	in.Follow = st.follows()
	var relNote string
	in.Release = func() pkgmgr.OSRelease {
		rel, note := t.release(ctx, st)
		relNote = note
		return rel
	}
	var wrote []write // new caches not mounted: the step writes there
	in.Veto = func(c pkgmgr.CacheMount) string {
		why, dirty := t.veto(ctx, dgst, st, c)
		if dirty {
			wrote = append(wrote, write{path: c.Target, what: why})
		}
		return why
	}
	plan, err := analyze(in, pkgmgr.Options{Managers: t.opt.Managers})
	st.dirty = append(st.dirty, wrote...)
	if why := fetchesWithCredentials(ex, t.nodes[dgst].where); why != "" {
		// After this step, what it put in any directory may be what no later
		// step can download again (a private module fetched with a token),
		// so no new cache may hide it. Caches already following the lineage
		// are mounted on the step itself and keep what it writes.
		st.dirty = append(st.dirty, write{path: "/", what: why})
	}
	if relNote != "" {
		step.Notes = append(step.Notes, relNote)
	}
	if err != nil {
		step.Notes = []string{"left unchanged: " + err.Error()}
		return step, false
	}
	step.Managers, step.Notes = plan.Managers, append(step.Notes, plan.Notes...)
	if home != "" {
		// HOME was only added for pkgmgr; runc sets the same from /etc/passwd.
		if i := slices.Index(plan.Env, home); i >= 0 {
			plan.Env = slices.Delete(slices.Clone(plan.Env), i, i+1)
		}
	}
	if len(plan.Caches) == 0 && (len(plan.Managers) == 0 || len(plan.Files) == 0 &&
		slices.Equal(plan.Args, in.Args) && slices.Equal(plan.Env, in.Env)) {
		return step, false
	}
	added, err := t.apply(ctx, op, ex, md, plan, t.baseImage(st))
	if err != nil {
		// Fail open: the op is untouched until apply succeeds, and writes
		// what it downloads into the layer.
		step.Notes = append(step.Notes, "left unchanged: "+err.Error())
		for _, c := range plan.Caches {
			if c.Follows == "" {
				st.dirty = append(st.dirty, write{path: c.Target, what: t.nodes[dgst].where + " writes it without a cache"})
			}
		}
		return step, false
	}
	// From here on the lineage's content at these targets is in the cache.
	for _, c := range plan.Caches {
		if c.Follows == "" && !c.Local {
			if st.active == nil {
				st.active = map[string]pkgmgr.CacheMount{}
			}
			c.Follows = t.nodes[dgst].where
			st.active[c.Target] = c
		}
	}
	step.Args, step.Env, step.Mounts, step.Rewritten = plan.Args, plan.Env, added, true
	return step, true
}

// fetchesWithCredentials says why a step may fetch what later steps can't:
// it has a secret or an SSH agent mount, which later steps don't (a
// `RUN --mount=type=ssh make deps` before `RUN go build`). "" otherwise.
func fetchesWithCredentials(ex *pb.ExecOp, where string) string {
	for _, m := range ex.Mounts {
		switch m.MountType {
		case pb.MountType_SECRET:
			return where + " runs with a secret mount: what it fetched may not be fetchable without it"
		case pb.MountType_SSH:
			return where + " runs with an SSH agent mount: what it fetched may not be fetchable without it"
		}
	}
	return ""
}

// analyze is pkgmgr.Analyze that turns a panic into an error, so one odd
// step can never take the build down.
func analyze(s pkgmgr.Step, o pkgmgr.Options) (plan pkgmgr.Plan, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("analysis failed: %v", r)
		}
	}()
	return pkgmgr.Analyze(s, o)
}

// apply edits op in place. It first builds everything that can fail, so an
// error leaves op untouched. image is the lineage's base image (baseImage).
func (t *transformer) apply(ctx context.Context, op *pb.Op, ex *pb.ExecOp, md *pb.OpMetadata, plan pkgmgr.Plan, image string) ([]Mount, error) {
	var (
		mounts []*pb.Mount
		added  []Mount
		inputs []*pb.Input
		gen    []generated
	)
	// input gives the index of g's head among the op's inputs, adding it once.
	base := int64(len(op.Inputs))
	input := func(g generated) int64 {
		for i, in := range inputs {
			if in.Digest == string(g.head) {
				return base + int64(i)
			}
		}
		inputs = append(inputs, &pb.Input{Digest: string(g.head)})
		gen = append(gen, g)
		return base + int64(len(inputs)-1)
	}
	// plan.Caches is sorted by target, so a cache nested in another (a
	// per-image one) comes after it; BuildKit mounts in destination order.
	for _, c := range plan.Caches {
		if !path.IsAbs(c.Target) || path.Clean(c.Target) != c.Target || c.Target == "/" {
			return nil, errors.Errorf("bad cache target %q", c.Target)
		}
		m := &pb.Mount{
			Input:     int64(pb.Empty),
			Dest:      c.Target,
			Output:    int64(pb.SkipOutput),
			MountType: pb.MountType_CACHE,
			CacheOpt:  &pb.CacheOpt{ID: cacheID(t.opt, c, op.Platform, image), Sharing: sharing(c.Sharing)},
		}
		seed := c.UID != 0 || c.GID != 0
		if seed {
			// Like upstream's --mount=type=cache,uid=…,gid=…: the cache starts
			// from a directory owned by the step's user.
			g, err := generate(ctx, op.Platform, "[internal] setting cache mount permissions",
				llb.Mkdir("/cache", SeedMode, llb.WithUIDGID(c.UID, c.GID)))
			if err != nil {
				return nil, err
			}
			m.Input, m.Selector = input(g), "/cache"
		}
		mounts = append(mounts, m)
		added = append(added, Mount{Type: "cache", Target: c.Target, ID: m.CacheOpt.ID, Sharing: c.Sharing, UID: c.UID, GID: c.GID, Seed: seed, Mode: SeedMode, Manager: c.Manager, Follows: c.Follows})
	}
	if len(plan.Files) > 0 {
		var action *llb.FileAction
		names := make([]string, len(plan.Files))
		for i, f := range plan.Files {
			if !path.IsAbs(f.Target) || path.Clean(f.Target) != f.Target || f.Target == "/" {
				return nil, errors.Errorf("bad file target %q", f.Target)
			}
			names[i] = fmt.Sprintf("/%d-%s", i, path.Base(f.Target))
			if action == nil {
				action = llb.Mkfile(names[i], 0o644, f.Contents)
			} else {
				action = action.Mkfile(names[i], 0o644, f.Contents)
			}
		}
		g, err := generate(ctx, op.Platform, "[internal] autocache: generating config files", action)
		if err != nil {
			return nil, err
		}
		idx := input(g)
		for i, f := range plan.Files {
			mounts = append(mounts, &pb.Mount{Input: idx, Selector: names[i], Dest: f.Target, Readonly: true, Output: int64(pb.SkipOutput)})
			added = append(added, Mount{Type: "bind", Target: f.Target, Readonly: true, Manager: f.Manager})
		}
	}

	// Nothing below can fail.
	for _, g := range gen {
		for _, o := range g.ops {
			t.emit(o.dgst, o.dt, o.inputs, o.md, nil)
		}
	}
	op.Inputs = append(op.Inputs, inputs...)
	ex.Mounts = append(ex.Mounts, mounts...)
	ex.Meta.Args = slices.Clone(plan.Args)
	ex.Meta.Env = slices.Clone(plan.Env)
	if md != nil {
		if md.Caps == nil {
			md.Caps = map[string]bool{}
		}
		if len(plan.Caches) > 0 {
			md.Caps[string(pb.CapExecMountCache)] = true
			md.Caps[string(pb.CapExecMountCacheSharing)] = true
		}
		if len(inputs) > 0 {
			md.Caps[string(pb.CapExecMountSelector)] = true
			md.Caps[string(pb.CapExecMountBind)] = true
		}
		if name, ok := md.Description["llb.customname"]; ok {
			what := strings.Join(plan.Managers, ", ")
			if what == "" {
				var mgrs []string
				for _, c := range plan.Caches {
					if !slices.Contains(mgrs, c.Manager) {
						mgrs = append(mgrs, c.Manager)
					}
				}
				what = "follows " + strings.Join(mgrs, ", ")
			}
			md.Description["llb.customname"] = name + " [autocache: " + what + "]"
		}
	}
	return added, nil
}

// SeedMode is the mode of a new cache directory: BuildKit's for a cache
// without a seed, and of the seed autocache gives a non-root step's cache
// (upstream's default for --mount=type=cache,uid=…).
const SeedMode os.FileMode = 0o755

func sharing(s string) pb.CacheSharingOpt {
	switch s {
	case pkgmgr.Locked:
		return pb.CacheSharingOpt_LOCKED
	case pkgmgr.Private:
		return pb.CacheSharingOpt_PRIVATE
	}
	return pb.CacheSharingOpt_SHARED
}

// generated is a small definition (a FileOp on scratch) that becomes a new
// input of a step.
type generated struct {
	head digest.Digest
	ops  []genOp
}

type genOp struct {
	dgst   digest.Digest
	dt     []byte
	inputs []*pb.Input
	md     *pb.OpMetadata
}

// generate marshals a FileOp on scratch for the step's platform.
func generate(ctx context.Context, p *pb.Platform, name string, action *llb.FileAction) (generated, error) {
	var opts []llb.ConstraintsOpt
	if p != nil {
		opts = append(opts, llb.Platform(p.Spec()))
	}
	st := llb.Scratch().File(action, append(opts, llb.WithCustomName(name))...)
	def, err := st.Marshal(ctx, opts...)
	if err != nil {
		return generated{}, errors.Wrap(err, "generating files")
	}
	pdef := def.ToPB()
	var g generated
	for i, dt := range pdef.Def {
		dgst := digest.FromBytes(dt)
		if i == len(pdef.Def)-1 { // the terminal op points at the head
			var term pb.Op
			if err := term.Unmarshal(dt); err != nil || len(term.Inputs) != 1 {
				return generated{}, errors.New("generating files: unexpected definition")
			}
			g.head = digest.Digest(term.Inputs[0].Digest)
			break
		}
		var op pb.Op
		if err := op.Unmarshal(dt); err != nil {
			return generated{}, errors.Wrap(err, "generating files")
		}
		g.ops = append(g.ops, genOp{dgst: dgst, dt: dt, inputs: op.Inputs, md: pdef.Metadata[string(dgst)]})
	}
	return g, nil
}

func cloneMeta(md *pb.OpMetadata) *pb.OpMetadata {
	if md == nil {
		return nil
	}
	return md.CloneVT()
}

func sourceLocations(def *pb.Definition, dgst string) *pb.Locations {
	if def.Source == nil {
		return nil
	}
	return def.Source.Locations[dgst]
}
