package llbtransform

import (
	"github.com/autocache/autocache/pkgmgr"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// The probe is a test mode for the conformance run (docs/probe.md),
// not a user feature: with Options.Probe every ExecOp gets one more cache
// mount, which nothing reads, so that every step of a test suite goes
// through the whole rewrite (a new digest, its dependants re-digested,
// metadata and source locations re-keyed, an added mount) and not only
// the few that run a package manager. It comes on top of what autocache
// decides for the step, and it leaves the progress name alone.

// Where the probe's cache is mounted. BuildKit removes the mount points
// it made for a step (executor.MountStubsCleaner), and with them every
// missing parent directory that is empty after the step. So:
//
//   - ProbeDev where the step's root filesystem has /dev: runc mounts a
//     tmpfs there before the step's own mounts, so the mount point is made
//     in that tmpfs and the filesystem is not touched at all.
//   - ProbeRoot where it may have none (scratch, an image without /dev):
//     under /dev, BuildKit would remove the /dev that runc made and that
//     upstream's layer keeps. Under / the mount point is removed again;
//     what is left is the mtime of / (BuildKit restores a parent's times
//     as they were once the mount point was made), which no layer records
//     and which runc's new /dev changes as well.
//
// A step of a lineage in which an earlier step ran has /dev: runc made it
// if it was missing, and nothing removes it. docs/probe.md has the check
// on a real buildkitd.
const (
	ProbeDev  = "/dev/.autocache-probe"
	ProbeRoot = "/.autocache-probe"
)

// ProbeID is the id of the probe's cache.
const ProbeID = "autocache-probe"

// probe adds the probe's mount to ExecOp d and records the caps it needs
// in md (which may be nil). It adds nothing to a step that is not for
// Linux, is one of the build's inputs (Options.Inputs) or already has a
// probe mount (a definition transformed before).
func (t *transformer) probe(d digest.Digest, op *pb.Op, ex *pb.ExecOp, md *pb.OpMetadata) (Mount, bool) {
	if os := op.GetPlatform().GetOS(); (os != "" && os != "linux") || t.opt.Inputs[d] {
		return Mount{}, false
	}
	for _, m := range ex.Mounts {
		if m.Dest == ProbeDev || m.Dest == ProbeRoot {
			return Mount{}, false
		}
	}
	target := t.probeTarget(d)
	ex.Mounts = append(ex.Mounts, &pb.Mount{
		Input:     int64(pb.Empty),
		Dest:      target,
		Output:    int64(pb.SkipOutput),
		MountType: pb.MountType_CACHE,
		CacheOpt:  &pb.CacheOpt{ID: ProbeID, Sharing: pb.CacheSharingOpt_SHARED},
	})
	if md != nil {
		if md.Caps == nil {
			md.Caps = map[string]bool{}
		}
		md.Caps[string(pb.CapExecMountCache)] = true
		md.Caps[string(pb.CapExecMountCacheSharing)] = true
	}
	return Mount{Type: "cache", Target: target, ID: ProbeID, Sharing: pkgmgr.Shared, Manager: "probe"}, true
}

// probeTarget is ProbeDev if an earlier step of step d's lineage ran,
// else ProbeRoot.
func (t *transformer) probeTarget(d digest.Digest) string {
	for n := t.nodes[d]; n != nil && n.opaque == "" && n.parent != ""; {
		n = t.nodes[n.parent]
		if n != nil && n.op.GetExec() != nil {
			return ProbeDev
		}
	}
	return ProbeRoot
}
