package llbtransform

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/solver/pb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// upstreamCacheID is the id upstream's Dockerfile frontend gives a
// hand-written --mount=type=cache,target=<target> under namespace ns.
func upstreamCacheID(t *testing.T, ns, target string) string {
	t.Helper()
	df := "FROM scratch\nRUN --mount=type=cache,target=" + target + " true\n"
	res, err := dockerfile2llb.Dockerfile2LLB(context.Background(), []byte(df), dockerfile2llb.ConvertOpt{
		Config: dockerui.Config{CacheIDNamespace: ns},
	})
	if err != nil {
		t.Fatal(err)
	}
	def, err := res.State.Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.Unmarshal(dt); err != nil {
			t.Fatal(err)
		}
		for _, m := range op.GetExec().GetMounts() {
			if m.MountType == pb.MountType_CACHE {
				return m.CacheOpt.ID
			}
		}
	}
	t.Fatal("no cache mount")
	return ""
}

func TestCacheIDMatchesHandWrittenMounts(t *testing.T) {
	for _, tc := range []struct{ ns, written, clean string }{
		{"", "/root/.cache/pip", "/root/.cache/pip"},
		{"", "/root/.cache/pip/", "/root/.cache/pip"}, // upstream cleans the target
		{"myproject", "/root/.npm", "/root/.npm"},
		{"a/b", "/go/pkg/mod", "/go/pkg/mod"},
	} {
		want := upstreamCacheID(t, tc.ns, tc.written)
		if got := CacheID(tc.ns, "", "", tc.clean); got != want {
			t.Errorf("ns %q target %q: autocache %q, upstream %q", tc.ns, tc.written, got, want)
		}
	}
}

func TestCacheIDGrammar(t *testing.T) {
	for _, tc := range []struct{ ns, scope, platform, target, want string }{
		{"", "", "", "/root/.cache/pip", "//root/.cache/pip"},
		{"proj", "", "", "/root/.cache/pip", "proj//root/.cache/pip"},
		{"", "team-a", "", "/root/.cache/pip", "/@team-a//root/.cache/pip"},
		{"proj", "team-a", "", "/root/.cache/pip", "proj/@team-a//root/.cache/pip"},
		{"", "", "linux/arm64/v8", "/var/cache/apt", "/linux/arm64/v8//var/cache/apt"},
		{"proj", "team-a", "linux/amd64", "/var/cache/apt", "proj/@team-a/linux/amd64//var/cache/apt"},
	} {
		id := CacheID(tc.ns, tc.scope, tc.platform, tc.target)
		if id != tc.want {
			t.Errorf("%+v: %q", tc, id)
			continue
		}
		// It parses back: after ns + "/", the qualifiers end at the first "//".
		rest := strings.TrimPrefix(id, tc.ns+"/")
		quals, target := "", rest
		if i := strings.Index(rest, "//"); i >= 0 {
			quals, target = rest[:i], rest[i+1:]
		}
		scope, platform := "", quals
		if strings.HasPrefix(quals, "@") {
			scope, platform, _ = strings.Cut(quals[1:], "/")
		}
		if scope != tc.scope || platform != tc.platform || target != tc.target {
			t.Errorf("%q parses as %q %q %q", id, scope, platform, target)
		}
	}
}

func TestPlatformID(t *testing.T) {
	for _, tc := range []struct {
		p    *pb.Platform
		want string
	}{
		{nil, ""},
		{&pb.Platform{OS: "linux", Architecture: "amd64"}, "linux/amd64"},
		{&pb.Platform{OS: "linux", Architecture: "arm64"}, "linux/arm64"},
		{&pb.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, "linux/arm64"},
		{&pb.Platform{OS: "linux", Architecture: "aarch64"}, "linux/arm64"},
		{&pb.Platform{OS: "linux", Architecture: "arm"}, "linux/arm/v7"},
		{&pb.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "linux/arm/v7"},
		{&pb.Platform{OS: "linux", Architecture: "x86_64"}, "linux/amd64"},
	} {
		if got := platformID(tc.p); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.p, got, tc.want)
		}
	}
}

// Per-platform managers get the step's platform in their ids; the others
// keep the hand-written id; the scope goes into every id.
func TestCacheIDsInTransform(t *testing.T) {
	arm := ocispecs.Platform{OS: "linux", Architecture: "arm64"}
	for _, tc := range []struct {
		p     ocispecs.Platform
		scope string
		want  map[string]string
	}{
		{linux, "", map[string]string{
			"/var/cache/apt":   "/linux/amd64//var/cache/apt",
			"/root/.cache/pip": "//root/.cache/pip",
		}},
		{arm, "", map[string]string{
			"/var/cache/apt":   "/linux/arm64//var/cache/apt",
			"/root/.cache/pip": "//root/.cache/pip",
		}},
		{arm, "t1", map[string]string{
			"/var/cache/apt":   "/@t1/linux/arm64//var/cache/apt",
			"/root/.cache/pip": "/@t1//root/.cache/pip",
		}},
	} {
		st := llb.Image("docker.io/library/python:3.11-slim", llb.Platform(tc.p))
		st = run(st, "apt-get install -y gcc && pip install flask")
		def, err := st.Marshal(context.Background(), llb.Platform(tc.p))
		if err != nil {
			t.Fatal(err)
		}
		res := transform(t, def.ToPB(), Options{Scope: tc.scope})
		got := map[string]string{}
		for _, m := range res.Steps[0].Mounts {
			if m.Type == "cache" {
				got[m.Target] = m.ID
			}
		}
		for target, id := range tc.want {
			if got[target] != id {
				t.Errorf("%v scope %q: %s has id %q, want %q", tc.p, tc.scope, target, got[target], id)
			}
		}
	}
}
