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

// Applying a plan to an ExecOp: cache mounts, binds of generated files,
// argv and env, and the op's metadata.

// apply edits op in place. It first builds everything that can fail, so an
// error leaves op untouched. image is the lineage's base image (baseImage);
// faults are the step's (Step.Faults), for its progress name.
func (t *transformer) apply(ctx context.Context, op *pb.Op, ex *pb.ExecOp, md *pb.OpMetadata, plan pkgmgr.Plan, image string, faults []string) ([]Mount, error) {
	in := &newInputs{base: int64(len(op.Inputs))}
	mounts, added, err := t.cacheMounts(ctx, op.Platform, plan.Caches, image, in)
	if err != nil {
		return nil, err
	}
	fmounts, fadded, err := t.fileMounts(ctx, op.Platform, plan.Files, in)
	if err != nil {
		return nil, err
	}
	mounts, added = append(mounts, fmounts...), append(added, fadded...)

	// Nothing below can fail.
	for _, g := range in.gen {
		for _, o := range g.ops {
			t.emit(o.dgst, o.dt, o.inputs, o.md, nil)
		}
	}
	op.Inputs = append(op.Inputs, in.inputs...)
	ex.Mounts = append(ex.Mounts, mounts...)
	ex.Meta.Args = slices.Clone(plan.Args)
	ex.Meta.Env = slices.Clone(plan.Env)
	if md != nil {
		annotate(md, plan, len(in.inputs) > 0, faults)
	}
	return added, nil
}

// newInputs are the inputs apply adds to an op: the heads of generated
// definitions, after the op's own base inputs.
type newInputs struct {
	base   int64
	inputs []*pb.Input
	gen    []generated
}

// add gives the index of g's head among the op's inputs, adding it once.
func (n *newInputs) add(g generated) int64 {
	for i, in := range n.inputs {
		if in.Digest == string(g.head) {
			return n.base + int64(i)
		}
	}
	n.inputs = append(n.inputs, &pb.Input{Digest: string(g.head)})
	n.gen = append(n.gen, g)
	return n.base + int64(len(n.inputs)-1)
}

// cacheMounts are the mounts of the plan's caches on a step for platform p
// whose lineage starts from image. caches is sorted by target, so a cache
// nested in another (a per-image one) comes after it; BuildKit mounts in
// destination order.
func (t *transformer) cacheMounts(ctx context.Context, p *pb.Platform, caches []pkgmgr.CacheMount, image string, in *newInputs) ([]*pb.Mount, []Mount, error) {
	var mounts []*pb.Mount
	var added []Mount
	for _, c := range caches {
		if !path.IsAbs(c.Target) || path.Clean(c.Target) != c.Target || c.Target == "/" {
			return nil, nil, errors.Errorf("bad cache target %q", c.Target)
		}
		m := &pb.Mount{
			Input:     int64(pb.Empty),
			Dest:      c.Target,
			Output:    int64(pb.SkipOutput),
			MountType: pb.MountType_CACHE,
			CacheOpt:  &pb.CacheOpt{ID: cacheID(t.opt, c, p, image), Sharing: sharing(c.Sharing)},
		}
		seed := c.UID != 0 || c.GID != 0
		if seed {
			// Like upstream's --mount=type=cache,uid=…,gid=…: the cache starts
			// from a directory owned by the step's user.
			g, err := t.generate(ctx, p, fmt.Sprintf("seed %d:%d", c.UID, c.GID), func() *llb.FileAction {
				return llb.Mkdir("/cache", SeedMode, llb.WithUIDGID(c.UID, c.GID))
			}, "[internal] setting cache mount permissions")
			if err != nil {
				return nil, nil, err
			}
			m.Input, m.Selector = in.add(g), "/cache"
		}
		mounts = append(mounts, m)
		added = append(added, Mount{Type: "cache", Target: c.Target, ID: m.CacheOpt.ID, Sharing: c.Sharing, UID: c.UID, GID: c.GID, Seed: seed, Mode: SeedMode, Manager: c.Manager, Follows: c.Follows})
	}
	return mounts, added, nil
}

// fileMounts are read-only binds of the plan's generated files, all made
// by one FileOp.
func (t *transformer) fileMounts(ctx context.Context, p *pb.Platform, files []pkgmgr.FileMount, in *newInputs) ([]*pb.Mount, []Mount, error) {
	if len(files) == 0 {
		return nil, nil, nil
	}
	names := make([]string, len(files))
	var key strings.Builder
	for i, f := range files {
		if !path.IsAbs(f.Target) || path.Clean(f.Target) != f.Target || f.Target == "/" {
			return nil, nil, errors.Errorf("bad file target %q", f.Target)
		}
		names[i] = fmt.Sprintf("/%d-%s", i, path.Base(f.Target))
		fmt.Fprintf(&key, "%d:%s%d:%s", len(names[i]), names[i], len(f.Contents), f.Contents)
	}
	g, err := t.generate(ctx, p, key.String(), func() *llb.FileAction {
		var action *llb.FileAction
		for i, f := range files {
			if action == nil {
				action = llb.Mkfile(names[i], 0o644, f.Contents)
			} else {
				action = action.Mkfile(names[i], 0o644, f.Contents)
			}
		}
		return action
	}, "[internal] autocache: generating config files")
	if err != nil {
		return nil, nil, err
	}
	idx := in.add(g)
	var mounts []*pb.Mount
	var added []Mount
	for i, f := range files {
		mounts = append(mounts, &pb.Mount{Input: idx, Selector: names[i], Dest: f.Target, Readonly: true, Output: int64(pb.SkipOutput)})
		added = append(added, Mount{Type: "bind", Target: f.Target, Readonly: true, Manager: f.Manager})
	}
	return mounts, added, nil
}

// annotate records in the op's metadata the caps the new mounts need and,
// in its progress name, what autocache did ("[autocache: pip]") and, if it
// did less than it would have, why ("[autocache: pip; cannot read …]").
func annotate(md *pb.OpMetadata, plan pkgmgr.Plan, inputs bool, faults []string) {
	if md.Caps == nil {
		md.Caps = map[string]bool{}
	}
	if len(plan.Caches) > 0 {
		md.Caps[string(pb.CapExecMountCache)] = true
		md.Caps[string(pb.CapExecMountCacheSharing)] = true
	}
	if inputs {
		md.Caps[string(pb.CapExecMountSelector)] = true
		md.Caps[string(pb.CapExecMountBind)] = true
	}
	if name, ok := md.Description["llb.customname"]; ok && !strings.Contains(name, suffix) {
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
		if len(faults) > 0 {
			what += "; " + oneLine(faults)
		}
		md.Description["llb.customname"] = name + suffix + what + "]"
	}
}

// leftAlone says in the progress name of a step that autocache left as
// upstream made it why it did, if it would have cached it but could not
// read what it needed or could not rewrite it (faults; none: nothing is
// said). md may be nil.
func leftAlone(md *pb.OpMetadata, faults []string) {
	if name, ok := md.GetDescription()["llb.customname"]; ok && len(faults) > 0 && !strings.Contains(name, suffix) {
		md.Description["llb.customname"] = name + suffix + "left alone: " + oneLine(faults) + "]"
	}
}

// suffix starts what autocache adds to a progress name, once: a step
// transformed again (a definition built on a result) keeps its name.
const suffix = " [autocache: "

// oneLine joins faults for a progress name, which is one line.
func oneLine(faults []string) string {
	return strings.Join(strings.Fields(strings.Join(faults, "; ")), " ")
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

// generate is the FileOp on scratch that action makes for platform p,
// marshalled once per transform for each key (what action makes): many
// steps get the same seed directory or the same config files.
func (t *transformer) generate(ctx context.Context, p *pb.Platform, key string, action func() *llb.FileAction, name string) (generated, error) {
	if p != nil {
		key = fmt.Sprintf("%s/%s/%s/%s/%q\x00%s", p.OS, p.Architecture, p.Variant, p.OSVersion, p.OSFeatures, key)
	}
	key = name + "\x00" + key
	if g, ok := t.generated[key]; ok {
		return g, nil
	}
	g, err := generate(ctx, p, name, action())
	if err == nil {
		t.generated[key] = g
	}
	return g, err
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
