package llbtransform

import (
	"path"
	"slices"

	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// keptPaths finds, for every ExecOp, the paths that some other op reads out
// of a state built on top of it: the source of a COPY --from (a FileOp copy
// from another state) and what a RUN --mount=from=… binds. A cache mounted
// at such a path would leave it empty in the layer the reader copies from,
// so pkgmgr must not mount one there (Step.Keep), in that step or in any
// step built on it.
func keptPaths(ops []decodedOp) map[digest.Digest][]string {
	byDigest := make(map[digest.Digest]*pb.Op, len(ops))
	for _, o := range ops {
		byDigest[o.dgst] = o.op
	}
	keep := map[digest.Digest][]string{}
	mark := func(from digest.Digest, p string) {
		p = path.Clean("/" + p)
		seen := map[digest.Digest]bool{}
		stack := []digest.Digest{from}
		for len(stack) > 0 {
			d := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			op := byDigest[d]
			if seen[d] || op == nil {
				continue
			}
			seen[d] = true
			if op.GetExec() != nil && !slices.Contains(keep[d], p) {
				keep[d] = append(keep[d], p)
			}
			for _, in := range op.Inputs {
				stack = append(stack, digest.Digest(in.Digest))
			}
		}
	}
	for _, o := range ops {
		if f := o.op.GetFile(); f != nil {
			for _, a := range f.Actions {
				if c := a.GetCopy(); c != nil && a.SecondaryInput >= 0 && a.SecondaryInput < int64(len(o.op.Inputs)) {
					mark(digest.Digest(o.op.Inputs[a.SecondaryInput].Digest), c.Src)
				}
			}
		}
		if e := o.op.GetExec(); e != nil {
			for _, m := range e.Mounts {
				if m.Dest != "/" && m.Input >= 0 && m.Input < int64(len(o.op.Inputs)) {
					mark(digest.Digest(o.op.Inputs[m.Input].Digest), m.Selector)
				}
			}
		}
	}
	// A kept path stays in the layers, so a later step built on them must not
	// hide it behind a cache either: paths pass down to every op built on a
	// step that keeps them (ops are in dependency order). Not to a copy's
	// destination: what it copies from a state lands under its own path.
	for _, o := range ops {
		for _, in := range builtOn(o.op) {
			for _, p := range keep[digest.Digest(in.Digest)] {
				if !slices.Contains(keep[o.dgst], p) {
					keep[o.dgst] = append(keep[o.dgst], p)
				}
			}
		}
	}
	for d := range keep {
		slices.Sort(keep[d])
	}
	return keep
}

// builtOn are the inputs whose layers op's result is built on: an exec's
// root filesystem, the states a file op's actions start from (not the
// sources it copies from), and every input of any other op.
func builtOn(op *pb.Op) []*pb.Input {
	var idx []int64
	switch {
	case op.GetExec() != nil:
		root := rootfsMount(op.GetExec())
		if root == nil {
			return op.Inputs
		}
		idx = []int64{root.Input}
	case op.GetFile() != nil:
		for _, a := range op.GetFile().Actions {
			idx = append(idx, a.Input)
		}
	default:
		return op.Inputs
	}
	var out []*pb.Input
	for _, i := range idx {
		if i >= 0 && i < int64(len(op.Inputs)) && !slices.Contains(out, op.Inputs[i]) {
			out = append(out, op.Inputs[i])
		}
	}
	return out
}
