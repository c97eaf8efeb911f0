// Package llbtransform rewrites a marshalled LLB definition: every ExecOp
// that runs a package manager gets the cache mounts, generated config files,
// argv and env edits that pkgmgr plans for it. Every op that depends on a
// rewritten op is re-digested, and metadata and source locations follow the
// new digests. The same input always gives byte-identical output, and a
// definition with nothing to change comes back as it was.
package llbtransform

import (
	"context"
	"os"
	"slices"

	"github.com/autocache/autocache/pkgmgr"
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
	// Off lists the steps to leave exactly as upstream made them, by the
	// Dockerfile line their instruction starts on (FirstLine), with why
	// (`# autocache: off` above a RUN, read by package optout). Such a
	// step gets no mounts or edits, and its lineage is kept as upstream's
	// where it runs: an earlier step caches no directory that would reach
	// it (it would not see what that step left there), and what its
	// managers download stays in the layers, so no later cache hides it.
	Off map[int]string
	// Images answers what the transform asks about the build's filesystems
	// (accounts, directory contents, os-release); nil: nothing is known
	// about them, so user names stay unresolved, images are not checked
	// for content and releases are unknown.
	Images Images
	// Inputs are the ops of the build's frontend inputs (a client's own
	// definitions: buildctl's --frontend-input, buildx's input: and bake's
	// target: contexts). They are the client's, built or cached as it made
	// them, not the Dockerfile's steps: the transform leaves them exactly
	// as they are, like Off steps.
	Inputs map[digest.Digest]bool
	// Probe is a test mode, not a user feature: every Linux ExecOp also
	// gets a cache mount that nothing reads (probe.go), reported as
	// Step.Probed.
	Probe bool
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
	Probed    bool    // the probe's mount was added (Options.Probe)
	Off       string  // why the step was left alone on request (Options.Off); "" if it was analysed
	Mounts    []Mount // only the mounts added here
	Notes     []string
	// Faults say what autocache could not read about the step's
	// filesystems (an Images error) or could not do (an analysis or
	// rewrite that failed), for a step it would have cached: it did less
	// there than it would have, and the step's progress name says why.
	// They are in Notes too.
	Faults    []string
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
		opt:     opt,
		keep:    keptPaths(ops),
		renamed: map[digest.Digest]digest.Digest{},
		seen:    map[digest.Digest]bool{},
		meta:    map[string]*pb.OpMetadata{},
		locs:    map[string]*pb.Locations{},
		emitted: map[digest.Digest]emitted{},
		nodes:   lineageNodes(ops, def),
		lines:   map[digest.Digest]*lineState{},

		generated:  map[string]generated{},
		imageNames: map[digest.Digest]string{},
	}
	t.facts = newFacts(opt.Images, t.subDefinition, t.renamed)
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
	opt     Options
	facts   *facts                       // Options.Images' answers
	emitted map[digest.Digest]emitted    // ops in out, by digest
	keep    map[digest.Digest][]string   // per ExecOp: paths later ops read from its result
	nodes   map[digest.Digest]*node      // per op of the input: its place in its lineage
	lines   map[digest.Digest]*lineState // per op of the input: its lineage's state after it
	out     [][]byte
	order   []digest.Digest                 // digests of out, in order
	renamed map[digest.Digest]digest.Digest // old digest → new digest
	seen    map[digest.Digest]bool          // ops already in out
	meta    map[string]*pb.OpMetadata
	locs    map[string]*pb.Locations
	steps   []Step
	changed bool

	generated  map[string]generated     // by platform, name and what they make (generate)
	imageNames map[digest.Digest]string // baseImage, by source op
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
	// Only an ExecOp's metadata changes (its progress name, its caps): the
	// others' is the input's, shared, and never written.
	md := def.Metadata[string(oldDgst)]
	if op.GetExec() != nil {
		md = cloneMeta(md)
	}
	var step *Step
	st := t.inherit(oldDgst)
	if n := t.nodes[oldDgst]; n != nil {
		st.dirty = append(st.dirty, n.writes...)
	}
	if ex := op.GetExec(); ex != nil {
		name := md.GetDescription()["llb.customname"]
		s, edited := t.exec(ctx, oldDgst, op, ex, md, st)
		if t.opt.Probe {
			if m, ok := t.probe(oldDgst, op, ex, md); ok {
				s.Mounts, s.Probed, edited = append(s.Mounts, m), true, true
			}
		}
		step = &s
		dirty = dirty || edited
		if md.GetDescription()["llb.customname"] != name {
			t.changed = true // a step left alone: its progress name says why
		}
	}
	t.lines[oldDgst] = st
	newDgst := oldDgst
	if dirty {
		b, err := marshalOp(op)
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
	index  int // in out
}

// emit appends an op to the output once.
func (t *transformer) emit(dgst digest.Digest, dt []byte, inputs []*pb.Input, md *pb.OpMetadata, locs *pb.Locations) {
	if t.seen[dgst] {
		return
	}
	t.seen[dgst] = true
	t.emitted[dgst] = emitted{dt: dt, inputs: inputs, index: len(t.out)}
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
	in, step, home := t.stepOf(ctx, dgst, op, ex, len(st.active) > 0)
	if why := t.off(dgst); why != "" {
		step.Off = why
		t.leaveAlone(dgst, in, &step, st, why)
		return step, false
	}
	if t.opt.Inputs[dgst] {
		t.leaveAlone(dgst, in, &step, st, fromInput)
		return step, false
	}
	in.Follow = st.follows()
	plan, err := t.plan(ctx, dgst, st, &in, &step)
	if why := fetchesWithCredentials(ex, t.nodes[dgst].where); why != "" {
		// After this step, what it put in any directory may be what no later
		// step can download again (a private module fetched with a token),
		// so no new cache may hide it. Caches already following the lineage
		// are mounted on the step itself and keep what it writes.
		st.dirty = append(st.dirty, write{path: "/", what: why})
	}
	if err != nil {
		step.Notes = []string{"left unchanged: " + err.Error()}
		step.Faults = append(step.Faults, err.Error())
		leftAlone(md, step.Faults)
		return step, false
	}
	step.Managers, step.Notes = plan.Managers, append(step.Notes, plan.Notes...)
	if len(plan.Managers) == 0 && len(in.Follow) == 0 {
		step.Faults = nil // autocache would have done nothing here anyway
	}
	if home != "" {
		// HOME was only added for pkgmgr; runc sets the same from /etc/passwd.
		if i := slices.Index(plan.Env, home); i >= 0 {
			plan.Env = slices.Delete(slices.Clone(plan.Env), i, i+1)
		}
	}
	if len(plan.Caches) == 0 && (len(plan.Managers) == 0 || len(plan.Files) == 0 &&
		slices.Equal(plan.Args, in.Args) && slices.Equal(plan.Env, in.Env)) {
		leftAlone(md, step.Faults)
		return step, false
	}
	added, err := t.apply(ctx, op, ex, md, plan, t.baseImage(st), step.Faults)
	if err != nil {
		// Fail open: the op is untouched until apply succeeds, and writes
		// what it downloads into the layer.
		step.Notes = append(step.Notes, "left unchanged: "+err.Error())
		step.Faults = append(step.Faults, err.Error())
		leftAlone(md, step.Faults)
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
			c.Follows = t.nodes[dgst].where
			st.activate(c)
		}
	}
	step.Args, step.Env, step.Mounts, step.Rewritten = plan.Args, plan.Env, added, true
	return step, true
}

// stepOf is what pkgmgr gets of an ExecOp, and the report of it so far. A
// non-root user is resolved (resolveUser; following: the step's lineage
// has caches it follows); home is the HOME entry that added to in.Env, if
// any.
func (t *transformer) stepOf(ctx context.Context, dgst digest.Digest, op *pb.Op, ex *pb.ExecOp, following bool) (in pkgmgr.Step, step Step, home string) {
	meta := ex.GetMeta()
	step = Step{Args: meta.GetArgs(), Env: meta.GetEnv(), User: meta.GetUser(), Cwd: meta.GetCwd()}
	in = pkgmgr.Step{
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
	home = t.resolveUser(ctx, op, ex, &in, &step, following)
	return in, step, home
}

// plan asks pkgmgr what step d's plan depends on, answers it in the step
// from the lineage st and the image facts, and then asks for the plan:
// the analysis itself is pure. The new caches it refuses because the step
// writes there go into st.
func (t *transformer) plan(ctx context.Context, d digest.Digest, st *lineState, in *pkgmgr.Step, step *Step) (pkgmgr.Plan, error) {
	// One analysis from the questions to the plan: the script is walked once.
	a := pkgmgr.Begin(*in, pkgmgr.Options{Managers: t.opt.Managers})
	q := a.Questions()
	if q.Release {
		rel, note := t.release(ctx, st)
		in.Release = &rel
		if note != "" {
			step.Notes = append(step.Notes, note)
			step.Faults = append(step.Faults, note)
		}
		a.SetRelease(rel)
		q = a.Questions()
	}
	var wrote []write // new caches not mounted: the step writes there
	in.Refused, wrote = t.refusals(ctx, d, st, q.Caches, step)
	plan, err := a.Plan(in.Refused)
	st.dirty = append(st.dirty, wrote...)
	return plan, err
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

// marshalOp is pb.Op.Marshal (deterministic protobuf), byte for byte, for
// the ops the transform re-marshals: an op without maps (all but source
// and build ops) marshals the same with the generated marshaller, which
// takes no reflection. TestMarshalOpIsDeterministicMarshal holds it to that.
func marshalOp(op *pb.Op) ([]byte, error) {
	switch op.Op.(type) {
	case *pb.Op_Exec, *pb.Op_File, *pb.Op_Merge, *pb.Op_Diff:
		return op.MarshalVT()
	}
	return op.Marshal()
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
