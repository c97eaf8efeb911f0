package llbtransform

import (
	"github.com/autocache/autocache/pkgmgr"
	digest "github.com/opencontainers/go-digest"
)

// Steps left alone: on request (Options.Off) or because they are not the
// Dockerfile's (Options.Inputs).

// fromInput is why a step of the build's frontend inputs is left alone.
const fromInput = "a step of the build's inputs, not of the Dockerfile"

// off says why the ExecOp d is to be left as upstream made it, or "".
func (t *transformer) off(d digest.Digest) string {
	n := t.nodes[d]
	if n == nil || n.line == 0 || n.op.GetExec() == nil {
		return ""
	}
	return t.opt.Off[n.line]
}

// leaveAlone notes step d as left alone for why, and records in its
// lineage st that what its managers download stays in the layer there:
// no later step's new cache may hide it.
func (t *transformer) leaveAlone(d digest.Digest, in pkgmgr.Step, step *Step, st *lineState, why string) {
	step.Notes = append(step.Notes, "left alone: "+why)
	q := pkgmgr.Ask(in, pkgmgr.Options{Managers: t.opt.Managers})
	for _, c := range q.Caches {
		st.dirty = append(st.dirty, write{path: c.Target, what: t.nodes[d].where + " is left alone (" + why + ") and writes " + c.Target + " without a cache"})
	}
}
