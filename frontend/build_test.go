package frontend

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
	capspb "github.com/moby/buildkit/util/apicaps/pb"
	digest "github.com/opencontainers/go-digest"
	"google.golang.org/protobuf/proto"
)

// build runs Build through c (g, or a wrapper of g) and returns its result
// and the one definition it solved that runs steps.
func build(t *testing.T, c client.Client, g *fakeGateway) (*client.Result, *pb.Definition) {
	t.Helper()
	res, err := Build(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	defs := g.builds()
	if len(defs) != 1 {
		t.Fatalf("%d definitions with steps solved, want 1", len(defs))
	}
	return res, defs[0]
}

// step is an ExecOp of a solved definition.
type step struct {
	dgst   digest.Digest
	script string
	name   string // progress name
	mounts []*pb.Mount
}

func steps(t *testing.T, def *pb.Definition) []step {
	t.Helper()
	var out []step
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.Unmarshal(dt); err != nil {
			t.Fatal(err)
		}
		if ex := op.GetExec(); ex != nil {
			d := digest.FromBytes(dt)
			args := ex.GetMeta().GetArgs()
			out = append(out, step{dgst: d, script: args[len(args)-1], name: def.Metadata[string(d)].GetDescription()["llb.customname"], mounts: ex.Mounts})
		}
	}
	return out
}

func (s step) caches() []string {
	var out []string
	for _, m := range s.mounts {
		if m.MountType == pb.MountType_CACHE {
			out = append(out, m.Dest)
		}
	}
	return out
}

// off is AUTOCACHE=off added to opts: upstream's build.
func off(opts map[string]string) map[string]string {
	o := map[string]string{"build-arg:AUTOCACHE": "off"}
	for k, v := range opts {
		o[k] = v
	}
	return o
}

var image = map[string]string{
	"/etc/passwd":     "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
	"/etc/group":      "root:x:0:\napp:x:1000:\n",
	"/etc/os-release": "ID=\"rhel\"\nVERSION_ID=\"9.6\"\n",
	"/root/":          "",
	"/home/app/":      "",
}

const pipDockerfile = "FROM python:3.11-slim\nRUN pip install flask\n"

// TestBuildFallsBackWithoutCacheMountCaps: on a daemon without cache
// mounts, Build is upstream's: the same definition as with AUTOCACHE=off,
// and no autocache metadata. With them, the same gateway gets a cache.
func TestBuildFallsBackWithoutCacheMountCaps(t *testing.T) {
	var caps []*capspb.APICap
	for _, c := range pb.Caps.All() {
		if apicaps.CapID(c.ID) != pb.CapExecMountCache {
			caps = append(caps, c)
		}
	}
	old := newGateway(pipDockerfile, nil, image)
	set := pb.Caps.CapSet(caps)
	old.caps = &set
	res, def := build(t, old, old)
	up := newGateway(pipDockerfile, off(nil), image)
	_, upDef := build(t, up, up)
	if !bytes.Equal(defBytes(t, def), defBytes(t, upDef)) {
		t.Error("without cache mount caps the definition is not upstream's")
	}
	if _, ok := res.Metadata[MetaSteps]; ok {
		t.Error("autocache metadata without autocache")
	}
	now := newGateway(pipDockerfile, nil, image)
	res, def = build(t, now, now)
	if got := steps(t, def)[0].caches(); len(got) == 0 || string(res.Metadata[MetaSteps]) != "1" {
		t.Fatalf("with the caps: caches %q, steps %q", got, res.Metadata[MetaSteps])
	}
}

// TestBuildLeavesStepsAloneWhenReadsFail: when a read of the image that a
// step's plan needs fails or hangs, the build goes on; the step is
// upstream's byte for byte, and its progress name says that autocache left
// it alone and why. Without the fault, the same step is cached.
func TestBuildLeavesStepsAloneWhenReadsFail(t *testing.T) {
	defer func(d time.Duration) { readTimeout = d }(readTimeout)
	readTimeout = 50 * time.Millisecond
	boom := errors.New("boom")
	failing := func(reads ...string) func(string) error {
		return func(read string) error {
			for _, r := range reads {
				if strings.HasPrefix(read, r) {
					return boom
				}
			}
			return nil
		}
	}
	hanging := func(reads ...string) func(string) error {
		return func(read string) error {
			if failing(reads...)(read) != nil {
				return errHang
			}
			return nil
		}
	}
	user := "FROM python:3.11-slim\nUSER app\nRUN pip install flask\n"
	microdnf := "FROM registry.access.redhat.com/ubi9/ubi-minimal:9.6\nRUN microdnf install -y tar\n"
	osRelease := []string{"ReadFile /etc/os-release", "ReadFile /usr/lib/os-release"}
	for _, tc := range []struct {
		name, dockerfile string
		fault            func(string) error
		why              string
	}{
		{"contents fail", pipDockerfile, failing("ReadDir"), "cannot read /root/.cache/pip in the base image: boom"},
		{"contents hang", pipDockerfile, hanging("ReadDir"), "cannot read /root/.cache/pip in the base image: no answer within 50ms"},
		{"passwd fails", user, failing("ReadFile /etc/passwd"), "user app: cannot read the accounts: /etc/passwd: boom"},
		{"passwd hangs", user, hanging("ReadFile /etc/passwd"), "user app: cannot read the accounts: no answer within 50ms"},
		{"group fails", user, failing("ReadFile /etc/group"), "user app: cannot read the accounts: /etc/group: boom"},
		{"group hangs", user, hanging("ReadFile /etc/group"), "user app: cannot read the accounts: no answer within 50ms"},
		{"os-release fails", microdnf, failing(osRelease...), "cannot read /etc/os-release in the base image: boom"},
		{"os-release hangs", microdnf, hanging(osRelease...), "cannot read /etc/os-release in the base image: no answer within 50ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateway(tc.dockerfile, nil, image)
			res, def := build(t, &faultyGateway{Client: g, fault: tc.fault}, g)
			up := newGateway(tc.dockerfile, off(nil), image)
			_, upDef := build(t, up, up)
			if !slices.EqualFunc(def.Def, upDef.Def, bytes.Equal) {
				t.Error("the step is not upstream's")
			}
			s, upStep := steps(t, def)[0], steps(t, upDef)[0]
			if want := upStep.name + " [autocache: left alone: " + tc.why; !strings.HasPrefix(s.name, want) {
				t.Errorf("progress name\n %q\nwant %q…", s.name, want)
			}
			if got := string(res.Metadata[MetaSteps]); got != "0" {
				t.Errorf("%s steps rewritten", got)
			}
			// The control: without the fault the step is cached.
			ok := newGateway(tc.dockerfile, nil, image)
			res, def = build(t, ok, ok)
			if got := steps(t, def)[0].caches(); len(got) == 0 || string(res.Metadata[MetaSteps]) != "1" {
				t.Errorf("without the fault: caches %q", got)
			}
		})
	}
}

// TestBuildProbe: with AUTOCACHE_PROBE=1 in the frontend's environment
// every step gets one probe mount on top of autocache's own, and counts as
// rewritten; progress names and the image config are what they are
// without it.
func TestBuildProbe(t *testing.T) {
	df := "FROM python:3.11-slim\nRUN echo a\nRUN pip install flask\n"
	up := newGateway(df, off(nil), image)
	upRes, upDef := build(t, up, up)
	plain := newGateway(df, nil, image)
	_, plainDef := build(t, plain, plain)

	t.Setenv(EnvProbe, "1")
	g := newGateway(df, nil, image)
	res, def := build(t, g, g)
	if got := string(res.Metadata[MetaSteps]); got != "2" {
		t.Errorf("%s steps rewritten, want 2", got)
	}
	for i, s := range steps(t, def) {
		upStep, plainStep := steps(t, upDef)[i], steps(t, plainDef)[i]
		var probes, others []string
		for _, m := range s.mounts {
			if m.CacheOpt.GetID() == "autocache-probe" {
				probes = append(probes, m.Dest)
			} else {
				others = append(others, m.Dest)
			}
		}
		var plainMounts []string
		for _, m := range plainStep.mounts {
			plainMounts = append(plainMounts, m.Dest)
		}
		if len(probes) != 1 || !slices.Equal(others, plainMounts) {
			t.Errorf("%q: probe mounts %q, other mounts %q, want %q", s.script, probes, others, plainMounts)
		}
		if s.name != plainStep.name || !strings.HasPrefix(s.name, upStep.name) {
			t.Errorf("%q: progress name %q, want %q", s.script, s.name, plainStep.name)
		}
	}
	if cfg, upCfg := res.Metadata["containerimage.config"], upRes.Metadata["containerimage.config"]; len(cfg) == 0 || !bytes.Equal(cfg, upCfg) {
		t.Errorf("image config\n%s\nwant\n%s", cfg, upCfg)
	}

	t.Setenv(EnvProbe, "0")
	g = newGateway(df, nil, image)
	_, def = build(t, g, g)
	if !bytes.Equal(defBytes(t, def), defBytes(t, plainDef)) {
		t.Error("AUTOCACHE_PROBE=0 still probes")
	}
}

// TestBuildLeavesTheClientsInputsAlone: a build context given as a
// frontend input (buildctl --frontend-input, bake's target: contexts) is
// the client's definition, solved or cached as it made it: its steps keep
// their digests, with or without the probe, and the Dockerfile's are
// cached as ever. (BuildKit's TestFrontendInputs reads back what the
// input's step wrote when the client solved it alone.)
func TestBuildLeavesTheClientsInputsAlone(t *testing.T) {
	ctxState := llb.Image("python:3.11-slim").Run(llb.Shlex("pip install flask")).Root()
	ctxDef, err := ctxState.Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	df := "FROM python:3.11-slim\nCOPY . /src\nRUN pip install requests\n"
	for _, probe := range []string{"0", "1"} {
		t.Setenv(EnvProbe, probe)
		g := newGateway(df, nil, image)
		g.inputs = map[string]llb.State{"context": ctxState}
		_, def := build(t, g, g)
		var input, own *step
		for _, s := range steps(t, def) {
			switch s.script {
			case "flask":
				input = &s
			case "pip install requests":
				own = &s
			}
		}
		if input == nil || own == nil {
			t.Fatalf("probe=%s: steps %+v", probe, steps(t, def))
		}
		if !slices.ContainsFunc(ctxDef.Def, func(dt []byte) bool { return digest.FromBytes(dt) == input.dgst }) || len(input.mounts) != 1 {
			t.Errorf("probe=%s: the input's step changed: %s, mounts %v", probe, input.dgst, input.mounts)
		}
		if !slices.Contains(own.caches(), "/root/.cache/pip") {
			t.Errorf("probe=%s: the Dockerfile's step got caches %q", probe, own.caches())
		}
	}
}

// TestRewrittenStepKeepsItsDockerfileLine: BuildKit puts the Dockerfile
// location into a failing step's error from the definition's source
// locations under the failing op's digest (llbsolver's resultProxy
// wrapError, mirrored in sourceOf). Every step autocache rewrites, or
// probes, keeps its RUN line under its new digest.
func TestRewrittenStepKeepsItsDockerfileLine(t *testing.T) {
	t.Setenv(EnvProbe, "1")
	df := "FROM python:3.11-slim\n\nRUN echo a\nRUN pip install \\\n  flask\n"
	g := newGateway(df, nil, image)
	_, def := build(t, g, g)
	want := map[string]int32{"echo a": 3, "pip install   flask": 4}
	ss := steps(t, def)
	if len(ss) != len(want) {
		t.Fatalf("%d steps", len(ss))
	}
	for _, s := range ss {
		err := sourceOf(def, errdefs.WrapVertex(errors.New("exit code: 1"), s.dgst))
		src := errdefs.Sources(err)
		if len(src) != 1 || src[0].Info.Filename != "Dockerfile" || src[0].Ranges[0].Start.Line != want[s.script] {
			t.Errorf("%q: error sources %v, want Dockerfile line %d", s.script, src, want[s.script])
		}
		if !strings.Contains(err.Error(), "exit code: 1") {
			t.Errorf("%q: error %v", s.script, err)
		}
	}
}

// sourceOf is what BuildKit's solver does to a step's error (llbsolver
// resultProxy.wrapError): it adds the locations that def's source map
// has under the failing vertex's digest.
func sourceOf(def *pb.Definition, err error) error {
	var ve *errdefs.VertexError
	if !errors.As(err, &ve) || def.Source == nil {
		return err
	}
	for _, loc := range def.Source.Locations[ve.Digest].GetLocations() {
		if loc != nil && loc.SourceIndex >= 0 && int(loc.SourceIndex) < len(def.Source.Infos) {
			err = errdefs.WithSource(err, &errdefs.Source{Info: def.Source.Infos[loc.SourceIndex], Ranges: loc.Ranges})
		}
	}
	return err
}

func defBytes(t *testing.T, def *pb.Definition) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
