package llbtransform

import (
	"bytes"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
)

// TestMarshalOpIsDeterministicMarshal: the transform's marshaller gives
// pb.Op.Marshal's bytes for every kind of op and mount it re-marshals,
// before and after the transform added its mounts, inputs and edits.
func TestMarshalOpIsDeterministicMarshal(t *testing.T) {
	// Several attrs: a map, which only the deterministic marshaller orders.
	ctx := llb.Local("context", llb.IncludePatterns([]string{"a"}), llb.ExcludePatterns([]string{"b"}),
		llb.SharedKeyHint("k"), llb.FollowPaths([]string{"c"}), llb.Differ(llb.DiffMetadata, true))
	st := run(base(), "apt-get update && apt-get install -y curl",
		llb.AddSecret("/run/secrets/tok", llb.SecretID("tok")),
		llb.AddSSHSocket(),
		llb.AddMount("/tmp", llb.Scratch(), llb.Tmpfs()),
		llb.AddMount("/mine", llb.Scratch(), llb.AsPersistentCacheDir("mine", llb.CacheMountLocked)),
		llb.AddMount("/src", ctx, llb.SourcePath("/app"), llb.Readonly),
		llb.Network(llb.NetModeNone), llb.Security(llb.SecurityModeInsecure),
		llb.AddExtraHost("db", []byte{10, 0, 0, 1}), llb.AddUlimit(llb.UlimitNofile, 1024, 2048))
	st = run(st, "pip install flask", llb.User("app"), llb.Dir("/work"), llb.AddEnv("PIP_INDEX_URL", "http://x"))
	st = st.File(llb.Copy(ctx, "/req.txt", "/app/", &llb.CopyInfo{CreateDestPath: true, AllowWildcard: true}).
		Mkfile("/app/a", 0o600, []byte("a")).Mkdir("/app/d", 0o755, llb.WithParents(true)).
		Rm("/app/old", llb.WithAllowNotFound(true)).Symlink("/app/a", "/app/b"))
	layer := llb.Scratch().File(llb.Mkfile("/l", 0o644, []byte("l")))
	st = llb.Merge([]llb.State{st, layer})
	st = llb.Merge([]llb.State{st, llb.Diff(base(), run(base(), "npm ci"))})
	st = run(st, "go mod download && npm ci")
	in := marshal(t, st)
	res := transform(t, in, Options{Probe: true})
	if !res.Changed {
		t.Fatal("nothing changed: the transform's own edits go untested")
	}
	kinds := map[string]bool{}
	for _, def := range []*pb.Definition{in, res.Def} {
		for _, dt := range def.Def {
			var op pb.Op
			if err := op.Unmarshal(dt); err != nil {
				t.Fatal(err)
			}
			want, err := op.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := marshalOp(&op)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%T: marshalOp differs from pb.Op.Marshal\n got %x\nwant %x", op.Op, got, want)
			}
			kinds[kindOf(&op)] = true
		}
	}
	for _, k := range []string{"exec", "file", "merge", "diff", "source"} {
		if !kinds[k] {
			t.Errorf("no %s op compared", k)
		}
	}
}

func kindOf(op *pb.Op) string {
	switch op.Op.(type) {
	case *pb.Op_Exec:
		return "exec"
	case *pb.Op_File:
		return "file"
	case *pb.Op_Merge:
		return "merge"
	case *pb.Op_Diff:
		return "diff"
	case *pb.Op_Source:
		return "source"
	}
	return "other"
}
