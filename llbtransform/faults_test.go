package llbtransform

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
)

// TestUnreadableImageLeavesTheStepAlone: when what a step's plan needs
// can't be read (Images errors), the step's op is upstream's byte for
// byte, and its progress name says that autocache left it alone and why.
func TestUnreadableImageLeavesTheStepAlone(t *testing.T) {
	boom := errors.New("boom")
	passwd := func(context.Context, *pb.Definition) ([]byte, []byte, error) {
		return []byte("root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"), nil, nil
	}
	ubi := func(ref string) llb.State {
		return llb.Image(ref, llb.Platform(linux)).AddEnv("PATH", "/usr/bin:/bin")
	}
	for _, tc := range []struct {
		name   string
		st     llb.State
		images fakeImages
		why    []string
	}{{
		name:   "contents",
		st:     run(base(), "pip install flask"),
		images: fakeImages{contents: func(context.Context, *pb.Definition, string) ([]string, error) { return nil, boom }},
		why:    []string{"cannot read /root/.cache/pip in the base image: boom", "cannot read /root/.cache/pip/wheels in the base image: boom"},
	}, {
		name:   "accounts",
		st:     run(base(), "pip install flask", llb.User("app")),
		images: fakeImages{accounts: func(context.Context, *pb.Definition) ([]byte, []byte, error) { return nil, nil, boom }, contents: emptyImages(nil)},
		why:    []string{"user app: cannot read the accounts: boom"},
	}, {
		name: "os-release",
		st:   run(ubi("registry.access.redhat.com/ubi9/ubi-minimal:9.6"), "microdnf install -y tar"),
		images: fakeImages{contents: emptyImages(nil), accounts: passwd,
			release: func(context.Context, *pb.Definition) ([]byte, error) { return nil, boom }},
		why: []string{"cannot read /etc/os-release in the base image: boom"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			in := marshal(t, tc.st)
			res := transform(t, in, Options{Images: tc.images})
			s := res.Steps[0]
			if s.Rewritten || s.Digest != s.OldDigest || len(s.Mounts) != 0 {
				t.Fatalf("step rewritten: %+v", s)
			}
			if !slices.Equal(s.Faults, tc.why) || !hasNote(s, tc.why[0]) {
				t.Errorf("faults %q notes %q, want %q", s.Faults, s.Notes, tc.why)
			}
			// Every op is upstream's byte for byte; only the step's name changed.
			if !slicesEqualBytes(res.Def.Def, in.Def) {
				t.Error("ops changed")
			}
			name := res.Def.Metadata[string(s.Digest)].GetDescription()["llb.customname"]
			if want := in.Metadata[string(s.Digest)].GetDescription()["llb.customname"] + " [autocache: left alone: " + strings.Join(tc.why, "; ") + "]"; name != want {
				t.Errorf("progress name %q, want %q", name, want)
			}
			if twice := transform(t, res.Def, Options{Images: tc.images}); twice.Changed {
				t.Error("a second transform changed the name again")
			}
		})
	}
}

func slicesEqualBytes(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestFaultsOnlyWhereAutocacheWouldAct: a step that runs no package
// manager gets no fault when its user's accounts can't be read; it is not
// named, and the definition comes back untouched.
func TestFaultsOnlyWhereAutocacheWouldAct(t *testing.T) {
	in := marshal(t, run(base(), "make build", llb.User("app")))
	res := transform(t, in, Options{Images: fakeImages{accounts: func(context.Context, *pb.Definition) ([]byte, []byte, error) {
		return nil, nil, errors.New("boom")
	}}})
	if res.Changed || res.Def != in || len(res.Steps[0].Faults) != 0 {
		t.Fatalf("changed %v, faults %q", res.Changed, res.Steps[0].Faults)
	}
}

// TestPartialFaultIsNamed: a step rewritten without one of its caches
// because that directory couldn't be read says so after its managers.
func TestPartialFaultIsNamed(t *testing.T) {
	st := llb.Image("docker.io/library/debian:bookworm-slim", llb.Platform(linux))
	st = run(st, "apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*")
	res := transform(t, marshal(t, st), Options{Images: fakeImages{contents: func(_ context.Context, _ *pb.Definition, dir string) ([]string, error) {
		if dir == "/var/lib/apt/lists" {
			return nil, errors.New("boom")
		}
		return nil, nil
	}}})
	s := res.Steps[0]
	if !s.Rewritten || mountOf(s, "/var/cache/apt") == nil || mountOf(s, "/var/lib/apt/lists") != nil {
		t.Fatalf("mounts %+v", s.Mounts)
	}
	name := res.Def.Metadata[string(s.Digest)].GetDescription()["llb.customname"]
	if !strings.HasSuffix(name, " [autocache: apt; cannot read /var/lib/apt/lists in the base image: boom]") {
		t.Errorf("progress name %q", name)
	}
}
