package llbtransform

import (
	"bytes"
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
		if got := CacheID(tc.ns, "", "", "", tc.clean); got != want {
			t.Errorf("ns %q target %q: autocache %q, upstream %q", tc.ns, tc.written, got, want)
		}
	}
}

func TestCacheIDGrammar(t *testing.T) {
	const py = "docker.io/library/python:3.11-alpine"
	for _, tc := range []struct{ ns, scope, platform, image, target, want string }{
		{"", "", "", "", "/root/.cache/pip", "//root/.cache/pip"},
		{"proj", "", "", "", "/root/.cache/pip", "proj//root/.cache/pip"},
		{"", "team-a", "", "", "/root/.cache/pip", "/@team-a//root/.cache/pip"},
		{"proj", "team-a", "", "", "/root/.cache/pip", "proj/@team-a//root/.cache/pip"},
		{"", "", "linux/arm64/v8", "", "/var/cache/apt", "/linux/arm64/v8//var/cache/apt"},
		{"proj", "team-a", "linux/amd64", "", "/var/cache/apt", "proj/@team-a/linux/amd64//var/cache/apt"},
		{"", "", "", py, "/root/.cache/pip/wheels", "/from:docker.io/library/python:3.11-alpine//root/.cache/pip/wheels"},
		{"proj", "team-a", "", NoImage, "/root/.cache/pip/wheels", "proj/@team-a/from:-//root/.cache/pip/wheels"},
		{"", "t", "linux/arm/v7", "docker.io/library/python@sha256:" + strings.Repeat("a", 64), "/x",
			"/@t/linux/arm/v7/from:docker.io/library/python@sha256:" + strings.Repeat("a", 64) + "//x"},
	} {
		id := CacheID(tc.ns, tc.scope, tc.platform, tc.image, tc.target)
		if id != tc.want {
			t.Errorf("%+v: %q", tc, id)
			continue
		}
		// It parses back: after ns + "/", the qualifiers end at the first
		// "//"; "@" starts the scope, "from:" the image.
		rest := strings.TrimPrefix(id, tc.ns+"/")
		quals, target := "", rest
		if i := strings.Index(rest, "//"); i >= 0 {
			quals, target = rest[:i], rest[i+1:]
		}
		scope := ""
		if strings.HasPrefix(quals, "@") {
			scope, quals, _ = strings.Cut(quals[1:], "/")
		}
		platform, image, _ := strings.Cut(quals, "from:")
		platform = strings.TrimSuffix(platform, "/")
		if scope != tc.scope || platform != tc.platform || image != tc.image || target != tc.target {
			t.Errorf("%q parses as %q %q %q %q", id, scope, platform, image, target)
		}
	}
}

func TestImageName(t *testing.T) {
	dgst := "sha256:" + strings.Repeat("0", 64)
	for in, want := range map[string]string{
		"docker-image://docker.io/library/python:3.11-alpine@" + dgst: "docker.io/library/python:3.11-alpine",
		"docker-image://docker.io/library/python:3.11-alpine":         "docker.io/library/python:3.11-alpine",
		"docker-image://python:3.11-slim":                             "docker.io/library/python:3.11-slim",
		"docker-image://ghcr.io/astral-sh/uv:python3.12-bookworm":     "ghcr.io/astral-sh/uv:python3.12-bookworm",
		"docker-image://python":                                       "docker.io/library/python:latest",
		"docker-image://docker.io/library/python@" + dgst:             "docker.io/library/python@" + dgst,
		"docker-image://Not A Ref":                                    NoImage,
		"local://context":                                             NoImage,
		"oci-layout://store/ref@" + dgst:                              NoImage,
		"":                                                            NoImage,
	} {
		if got := imageName(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
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
			"/var/cache/apt":          "/@t1/linux/arm64//var/cache/apt",
			"/root/.cache/pip":        "/@t1//root/.cache/pip",
			"/root/.cache/pip/wheels": "/@t1/from:docker.io/library/python:3.11-slim//root/.cache/pip/wheels",
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

// Built wheels are cached per base image: two stages FROM different images
// share the download cache and get different wheel caches, and the image
// follows the lineage into a stage built FROM another stage and into later
// steps. A nested mount comes after the cache around it.
func TestPerImageCacheIDs(t *testing.T) {
	py := func(ref string) llb.State {
		return llb.Image(ref, llb.Platform(linux)).AddEnv("PATH", "/usr/local/bin:/usr/bin:/bin")
	}
	alpine := run(py("python:3.11-alpine@sha256:"+strings.Repeat("1", 64)), "pip install cffi")
	slim := run(py("docker.io/library/python:3.11-slim"), "pip install cffi && echo slim")
	onSlim := run(run(slim, "echo next stage"), "pip install flask")
	fromScratch := run(llb.Scratch().AddEnv("PATH", "/usr/bin:/bin"), "pip install x")
	in := marshal(t, llb.Merge([]llb.State{alpine, onSlim, fromScratch}))
	res := transform(t, in, Options{})
	steps := byScript(res)
	const wheels = "/root/.cache/pip/wheels"
	for script, want := range map[string]string{
		"pip install cffi":              "/from:docker.io/library/python:3.11-alpine//root/.cache/pip/wheels",
		"pip install cffi && echo slim": "/from:docker.io/library/python:3.11-slim//root/.cache/pip/wheels",
		"echo next stage":               "/from:docker.io/library/python:3.11-slim//root/.cache/pip/wheels",
		"pip install flask":             "/from:docker.io/library/python:3.11-slim//root/.cache/pip/wheels",
		"pip install x":                 "/from:-//root/.cache/pip/wheels",
	} {
		s := steps[script]
		w, p := mountOf(s, wheels), mountOf(s, "/root/.cache/pip")
		if w == nil || p == nil || w.ID != want || p.ID != "//root/.cache/pip" {
			t.Errorf("%q: mounts %+v, want the wheels at %q and the pip cache at //root/.cache/pip", script, s.Mounts, want)
			continue
		}
		op, _ := pbMount(t, res, s, wheels)
		outer, inner := -1, -1
		for i, m := range op.GetExec().GetMounts() {
			switch m.Dest {
			case "/root/.cache/pip":
				outer = i
			case wheels:
				inner = i
				if m.MountType != pb.MountType_CACHE || m.CacheOpt.Sharing != pb.CacheSharingOpt_SHARED {
					t.Errorf("%q: wheels mount %v", script, m)
				}
			}
		}
		if outer < 0 || inner < outer {
			t.Errorf("%q: the wheels mount (%d) is not after the pip cache (%d)", script, inner, outer)
		}
	}
	if again := transform(t, in, Options{}); !bytes.Equal(defBytes(t, res.Def), defBytes(t, again.Def)) {
		t.Fatal("same input gave different output")
	}
	if again := transform(t, res.Def, Options{}); again.Changed {
		t.Fatal("a second transform changed the definition again")
	}
}
