package llbtransform

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/protobuf/proto"
)

// probeMounts are the probe's mounts of an op.
func probeMounts(op *pb.Op) []*pb.Mount {
	var out []*pb.Mount
	for _, m := range op.GetExec().GetMounts() {
		if m.Dest == ProbeDev || m.Dest == ProbeRoot {
			out = append(out, m)
		}
	}
	return out
}

// withoutProbe is an ExecOp's mounts without the probe's.
func withoutProbe(op *pb.Op) []*pb.Mount {
	return slices.DeleteFunc(slices.Clone(op.GetExec().GetMounts()), func(m *pb.Mount) bool {
		return m.Dest == ProbeDev || m.Dest == ProbeRoot
	})
}

// atIn is a location on one line of sm.
func atIn(sm *llb.SourceMap, line int32) llb.ConstraintsOpt {
	return sm.Location([]*pb.Range{{Start: &pb.Position{Line: line}, End: &pb.Position{Line: line}}})
}

// TestProbeMountsEveryStep: with Probe, every Linux ExecOp gets exactly one
// more cache mount, at /dev where an earlier step of its lineage ran and
// at / where none did; autocache's own plan still applies; progress names
// and source locations follow the new digests unchanged.
func TestProbeMountsEveryStep(t *testing.T) {
	sm := llb.NewSourceMap(nil, "Dockerfile", "Dockerfile", []byte("FROM python\n"))
	first := run(base(), "echo first", atIn(sm, 2))
	pip := run(first, "pip install --no-cache-dir flask", atIn(sm, 3))
	scratch := llb.Scratch().File(llb.Copy(first, "/bin", "/bin"), atIn(sm, 5))
	scratch = run(scratch, "ls /bin", atIn(sm, 6))
	in := marshal(t, llb.Merge([]llb.State{pip, scratch}))
	inOrder, inOps := ops(t, in)

	plain := transform(t, in, Options{})
	res := transform(t, in, Options{Probe: true})
	_, outOps := ops(t, res.Def)
	want := map[string]string{ // script → probe target
		"echo first":                       ProbeRoot, // on the image: /dev may be missing
		"pip install --no-cache-dir flask": ProbeDev,  // after a step
		"ls /bin":                          ProbeRoot, // scratch and a copy
	}
	if len(res.Steps) != len(want) {
		t.Fatalf("%d steps", len(res.Steps))
	}
	for i, s := range res.Steps {
		script := inOps[s.OldDigest].GetExec().GetMeta().GetArgs()[2]
		op := outOps[s.Digest]
		pm := probeMounts(op)
		if len(pm) != 1 || pm[0].Dest != want[script] || pm[0].MountType != pb.MountType_CACHE || pm[0].CacheOpt.GetID() != ProbeID ||
			pm[0].CacheOpt.GetSharing() != pb.CacheSharingOpt_SHARED || pm[0].Input != int64(pb.Empty) || pm[0].Output != int64(pb.SkipOutput) {
			t.Errorf("%q: probe mounts %v, want one cache at %s", script, pm, want[script])
		}
		if !s.Probed || s.Digest == s.OldDigest || !slices.ContainsFunc(s.Mounts, func(m Mount) bool { return m.Target == want[script] }) {
			t.Errorf("%q: step %+v", script, s)
		}
		// Autocache's own plan is the same, the probe comes on top.
		_, plainOps := ops(t, plain.Def)
		plainOp := plainOps[plain.Steps[i].Digest]
		if got, want := withoutProbe(op), plainOp.GetExec().GetMounts(); len(got) != len(want) ||
			!slices.EqualFunc(got, want, func(a, b *pb.Mount) bool { return proto.Equal(a, b) }) {
			t.Errorf("%q: mounts %v, without the probe %v", script, got, want)
		}
		// Progress names are the transform's without the probe; caps follow.
		md := res.Def.Metadata[string(s.Digest)]
		if got, want := md.GetDescription()["llb.customname"], plain.Def.Metadata[string(plain.Steps[i].Digest)].GetDescription()["llb.customname"]; got != want {
			t.Errorf("%q: progress name %q, want %q", script, got, want)
		}
		if !md.GetCaps()[string(pb.CapExecMountCache)] {
			t.Errorf("%q: caps %v", script, md.GetCaps())
		}
		// The Dockerfile location moves to the new digest, as it was.
		if got, want := res.Def.Source.Locations[string(s.Digest)], in.Source.Locations[string(s.OldDigest)]; want == nil || !proto.Equal(got, want) {
			t.Errorf("%q: locations %v, want %v", script, got, want)
		}
	}
	// The probe adds a mount, not an op.
	if len(res.Def.Def) != len(inOrder) {
		t.Fatalf("%d ops, want %d", len(res.Def.Def), len(inOrder))
	}
	again := transform(t, in, Options{Probe: true})
	if !bytes.Equal(defBytes(t, again.Def), defBytes(t, res.Def)) {
		t.Error("not deterministic")
	}
	if twice := transform(t, res.Def, Options{Probe: true}); twice.Changed {
		t.Error("a second transform added another probe")
	}
}

func TestProbeLeavesWindowsAlone(t *testing.T) {
	win := ocispecs.Platform{OS: "windows", Architecture: "amd64"}
	st := llb.Image("mcr.microsoft.com/windows/servercore:ltsc2022", llb.Platform(win)).
		Run(llb.Args([]string{"cmd", "/S", "/C", "echo hi"})).Root()
	def, err := st.Marshal(context.Background(), llb.Platform(win))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Transform(context.Background(), def.ToPB(), Options{Probe: true})
	if err != nil || res.Changed {
		t.Fatalf("windows step changed (%v)", err)
	}
}

// TestProbeTarget: /dev only once a step of the lineage ran, through file
// operations and stages; / for a step that starts from another step's
// mount (we can't tell what that holds).
func TestProbeTarget(t *testing.T) {
	first := run(base(), "a")
	copied := first.File(llb.Mkfile("/x", 0o644, []byte("x")))
	stage := run(copied, "b")
	other := first.Run(llb.Args([]string{"/bin/sh", "-c", "c"}), llb.WithCustomName("RUN c"))
	fromMount := run(other.AddMount("/out", llb.Scratch()), "d")
	in := marshal(t, llb.Merge([]llb.State{stage, fromMount, other.Root()}))
	res := transform(t, in, Options{Probe: true})
	_, m := ops(t, res.Def)
	want := map[string]string{"a": ProbeRoot, "b": ProbeDev, "c": ProbeDev, "d": ProbeRoot}
	got := map[string]string{}
	for _, s := range res.Steps {
		for _, pm := range probeMounts(m[s.Digest]) {
			got[s.Args[2]] += pm.Dest
		}
	}
	if len(got) != len(want) {
		t.Fatalf("probes %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: probe at %q, want %q", k, got[k], v)
		}
	}
}
