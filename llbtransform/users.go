package llbtransform

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/autocache/autocache/imagefacts"
	"github.com/autocache/autocache/pkgmgr"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// resolveUser turns a non-root step user into uid:gid for pkgmgr, from the
// /etc/passwd and /etc/group of the filesystem the step starts from (as
// runc will), and gives pkgmgr the user's home as HOME when the step's env
// has none. It returns the HOME entry it added ("" if none). A step that
// runs no package manager and follows no cache (following: its lineage
// has some) needs no user, and no image is read for one.
func (t *transformer) resolveUser(ctx context.Context, op *pb.Op, ex *pb.ExecOp, in *pkgmgr.Step, step *Step, following bool) string {
	if t.facts.images == nil || imagefacts.IsRoot(in.User) || in.OS != "" && in.OS != "linux" {
		return ""
	}
	// Which managers run does not depend on who runs them: a command is
	// known by its name, even under an unknown $HOME.
	if !following && pkgmgr.Begin(*in, pkgmgr.Options{Managers: t.opt.Managers}).Idle() {
		return ""
	}
	files := t.facts.accountFiles(ctx, rootfsInput(op, ex))
	switch {
	case errors.Is(files.err, errors.ErrUnsupported):
		return ""
	case files.err != nil:
		note := "user " + in.User + ": cannot read the accounts: " + files.err.Error()
		step.Notes, step.Faults = append(step.Notes, note), append(step.Faults, note)
		return ""
	}
	acct, ok := imagefacts.Resolve(in.User, files.passwd, files.group)
	if !ok {
		step.Notes = append(step.Notes, "user "+in.User+": not in the image's /etc/passwd or /etc/group")
		return ""
	}
	step.Notes = append(step.Notes, fmt.Sprintf("user %s is %d:%d, home %s", in.User, acct.UID, acct.GID, acct.Home))
	in.User = fmt.Sprintf("%d:%d", acct.UID, acct.GID)
	if slices.ContainsFunc(in.Env, func(e string) bool { return strings.HasPrefix(e, "HOME=") }) {
		return ""
	}
	home := "HOME=" + acct.Home
	in.Env = append(in.Env, home)
	return home
}

// rootfsInput is the input that the step's root filesystem comes from (nil
// for scratch).
func rootfsInput(op *pb.Op, ex *pb.ExecOp) *pb.Input {
	for _, m := range ex.Mounts {
		if m.Dest == "/" && m.Input >= 0 && m.Input < int64(len(op.Inputs)) {
			return op.Inputs[m.Input]
		}
	}
	return nil
}

// subDefinition is the part of the output so far that builds root.
func (t *transformer) subDefinition(root *pb.Input) *pb.Definition {
	// Only root's ancestors are visited, in the output's (dependency) order:
	// a read costs what its filesystem has, not what the output has so far.
	need := map[digest.Digest]bool{}
	var at []int // indexes in t.out
	stack := []digest.Digest{digest.Digest(root.Digest)}
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		e, ok := t.emitted[d]
		if need[d] || !ok {
			continue
		}
		need[d] = true
		at = append(at, e.index)
		for _, in := range e.inputs {
			stack = append(stack, digest.Digest(in.Digest))
		}
	}
	slices.Sort(at)
	def := &pb.Definition{Metadata: map[string]*pb.OpMetadata{}}
	for _, i := range at {
		d := t.order[i]
		def.Def = append(def.Def, t.out[i])
		if md := t.meta[string(d)]; md != nil {
			def.Metadata[string(d)] = md
		}
	}
	term, _ := (&pb.Op{Inputs: []*pb.Input{{Digest: root.Digest, Index: root.Index}}}).Marshal()
	def.Def = append(def.Def, term)
	return def
}
