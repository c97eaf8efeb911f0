package llbtransform

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/llbsolver"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/protobuf/proto"
)

var linux = ocispecs.Platform{OS: "linux", Architecture: "amd64"}

// marshal turns a state into a definition the way upstream's builder does.
func marshal(t *testing.T, st llb.State) *pb.Definition {
	t.Helper()
	def, err := st.Marshal(context.Background(), llb.Platform(linux))
	if err != nil {
		t.Fatal(err)
	}
	return def.ToPB()
}

func run(st llb.State, script string, opts ...llb.RunOption) llb.State {
	opts = append([]llb.RunOption{llb.Args([]string{"/bin/sh", "-c", script}), llb.WithCustomName("RUN " + script)}, opts...)
	return st.Run(opts...).Root()
}

func base() llb.State {
	return llb.Image("docker.io/library/python:3.11-slim", llb.Platform(linux)).
		AddEnv("PATH", "/usr/local/bin:/usr/bin:/bin")
}

func transform(t *testing.T, def *pb.Definition, opt Options) *Result {
	t.Helper()
	res, err := Transform(context.Background(), def, opt)
	if err != nil {
		t.Fatal(err)
	}
	// Every output must load in the solver, with caps validated.
	if _, err := llbsolver.Load(context.Background(), res.Def, nil, llbsolver.WithValidateCaps()); err != nil {
		t.Fatalf("output does not load: %v", err)
	}
	// A step whose analysis or rewrite failed is left alone too, which is
	// what many tests expect for other reasons: no test may pass that way.
	for _, s := range res.Steps {
		for _, n := range s.Notes {
			if strings.HasPrefix(n, "left unchanged: ") {
				t.Fatalf("step %q: %s", s.Args, n)
			}
		}
	}
	return res
}

// ops decodes a definition: digest → op, in order.
func ops(t *testing.T, def *pb.Definition) ([]digest.Digest, map[digest.Digest]*pb.Op) {
	t.Helper()
	var order []digest.Digest
	m := map[digest.Digest]*pb.Op{}
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.Unmarshal(dt); err != nil {
			t.Fatal(err)
		}
		d := digest.FromBytes(dt)
		order = append(order, d)
		m[d] = &op
	}
	return order, m
}

// defBytes is a canonical encoding of a whole definition.
func defBytes(t *testing.T, def *pb.Definition) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPipStepGetsCacheAndDependantsFollow(t *testing.T) {
	st := run(base(), "pip install --no-cache-dir flask")
	st = run(st, "echo done > /done")
	in := marshal(t, st)
	inBefore := defBytes(t, in)

	res := transform(t, in, Options{})
	if !res.Changed {
		t.Fatal("expected a change")
	}
	if !bytes.Equal(defBytes(t, in), inBefore) {
		t.Fatal("input definition was modified")
	}
	if len(res.Steps) != 2 {
		t.Fatalf("want 2 steps, got %d", len(res.Steps))
	}
	pip, echo := res.Steps[0], res.Steps[1]
	if !slices.Equal(pip.Managers, []string{"pip"}) {
		t.Fatalf("managers %v", pip.Managers)
	}
	if got := pip.Args[len(pip.Args)-1]; got != "pip install flask" {
		t.Fatalf("script %q", got)
	}
	order, m := ops(t, res.Def)
	ex := m[pip.Digest].GetExec()
	if ex == nil {
		t.Fatal("pip step not in output")
	}
	var cache *pb.Mount
	for _, mnt := range ex.Mounts {
		if mnt.MountType == pb.MountType_CACHE && cache == nil {
			cache = mnt
		}
	}
	if cache == nil || cache.Dest != "/root/.cache/pip" || cache.Input != int64(pb.Empty) || cache.Output != int64(pb.SkipOutput) ||
		cache.CacheOpt.ID != "//root/.cache/pip" || cache.CacheOpt.Sharing != pb.CacheSharingOpt_SHARED {
		t.Fatalf("bad cache mount %v", cache)
	}
	// The dependant step reads the rewritten step's new digest.
	echoOp := m[echo.Digest]
	if echoOp.Inputs[0].Digest != string(pip.Digest) {
		t.Fatalf("dependant still points at %s, want %s", echoOp.Inputs[0].Digest, pip.Digest)
	}
	if echo.Digest == echo.OldDigest {
		t.Fatal("dependant was not re-digested")
	}
	// The terminal op points at the new head.
	term := m[order[len(order)-1]]
	if term.Inputs[0].Digest != string(echo.Digest) {
		t.Fatal("terminal op not re-pointed")
	}
	// Metadata follows: caps and the progress name say what happened.
	md := res.Def.Metadata[string(pip.Digest)]
	if !md.Caps[string(pb.CapExecMountCache)] {
		t.Fatal("cache cap missing")
	}
	if name := md.Description["llb.customname"]; !strings.Contains(name, "[autocache: pip]") {
		t.Fatalf("custom name %q", name)
	}
	for _, d := range order {
		if _, ok := res.Def.Metadata[string(d)]; !ok {
			t.Fatalf("no metadata for %s", d)
		}
	}
	for k := range res.Def.Metadata {
		if _, ok := m[digest.Digest(k)]; !ok {
			t.Fatalf("stale metadata key %s", k)
		}
	}
}

func TestDeterministic(t *testing.T) {
	st := llb.Image("docker.io/library/debian:bookworm-slim", llb.Platform(linux))
	st = run(st, "apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*")
	st = run(st, "pip install -r req.txt", llb.User("1000:1000"), llb.AddEnv("HOME", "/home/app"))
	in := marshal(t, st)
	a := transform(t, in, Options{CacheNS: "proj"})
	b := transform(t, in, Options{CacheNS: "proj"})
	if !bytes.Equal(defBytes(t, a.Def), defBytes(t, b.Def)) {
		t.Fatal("same input gave different output")
	}
	// Transforming the output again changes nothing more.
	c := transform(t, a.Def, Options{CacheNS: "proj"})
	if c.Changed {
		t.Fatal("second transform changed the definition again")
	}
}

func TestUntouchedDefinitionIsIdentical(t *testing.T) {
	st := run(base(), "echo 'pip install flask' > /notes && make build")
	in := marshal(t, st)
	res := transform(t, in, Options{})
	if res.Changed || res.Def != in {
		t.Fatal("definition without package managers was changed")
	}
	if len(res.Steps) != 1 || len(res.Steps[0].Managers) != 0 {
		t.Fatalf("steps %+v", res.Steps)
	}
}

func TestAptGetsGeneratedFilesAndLockedCaches(t *testing.T) {
	st := llb.Image("docker.io/library/debian:bookworm-slim", llb.Platform(linux))
	st = run(st, "apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*")
	res := transform(t, marshal(t, st), Options{})
	order, m := ops(t, res.Def)
	step := res.Steps[0]
	ex := m[step.Digest].GetExec()
	targets := map[string]*pb.Mount{}
	for _, mnt := range ex.Mounts {
		targets[mnt.Dest] = mnt
	}
	for _, dir := range []string{"/var/cache/apt", "/var/lib/apt/lists"} {
		c := targets[dir]
		if c == nil || c.MountType != pb.MountType_CACHE || c.CacheOpt.Sharing != pb.CacheSharingOpt_LOCKED {
			t.Fatalf("%s: %v", dir, c)
		}
	}
	clean := targets["/etc/apt/apt.conf.d/docker-clean"]
	if clean == nil || !clean.Readonly || clean.Selector == "" || clean.Output != int64(pb.SkipOutput) {
		t.Fatalf("docker-clean bind: %v", clean)
	}
	// The generated file's op comes before the step that reads it.
	gen := digest.Digest(m[step.Digest].Inputs[clean.Input].Digest)
	if slices.Index(order, gen) < 0 || slices.Index(order, gen) > slices.Index(order, step.Digest) {
		t.Fatal("generated op missing or after its user")
	}
	f := m[gen].GetFile()
	if f == nil {
		t.Fatal("generated input is not a FileOp")
	}
	if got := step.Args[2]; strings.Contains(got, "rm -rf /var/lib/apt/lists") {
		t.Fatalf("cleanup of the cached lists not removed: %q", got)
	}
}

func TestNonRootCacheIsOwnedByTheUser(t *testing.T) {
	st := run(base(), "pip install flask", llb.User("1000:1000"), llb.AddEnv("HOME", "/home/app"))
	res := transform(t, marshal(t, st), Options{})
	_, m := ops(t, res.Def)
	step := res.Steps[0]
	var cache *pb.Mount
	for _, mnt := range m[step.Digest].GetExec().Mounts {
		if mnt.MountType == pb.MountType_CACHE {
			cache = mnt
		}
	}
	if cache == nil || cache.Dest != "/home/app/.cache/pip" || cache.Input < 0 || cache.Selector != "/cache" {
		t.Fatalf("cache %v", cache)
	}
	mk := m[digest.Digest(m[step.Digest].Inputs[cache.Input].Digest)].GetFile().GetActions()[0].GetMkdir()
	if mk == nil || mk.Owner.User.GetByID() != 1000 || mk.Owner.Group.GetByID() != 1000 || os.FileMode(mk.Mode) != SeedMode {
		t.Fatalf("mkdir %v", mk)
	}
	// The report says the cache has a seed, and which.
	if got := step.Mounts[0]; !got.Seed || got.Mode != SeedMode || got.UID != 1000 || got.GID != 1000 {
		t.Fatalf("reported mount %+v", got)
	}
}

func TestWindowsLeftAlone(t *testing.T) {
	win := ocispecs.Platform{OS: "windows", Architecture: "amd64"}
	st := llb.Image("mcr.microsoft.com/windows/servercore:ltsc2022", llb.Platform(win))
	st = st.Run(llb.Args([]string{"cmd", "/S", "/C", "pip install flask"})).Root()
	def, err := st.Marshal(context.Background(), llb.Platform(win))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Transform(context.Background(), def.ToPB(), Options{})
	if err != nil || res.Changed {
		t.Fatalf("windows step changed: %v", err)
	}
}

func TestUserMountCoversTarget(t *testing.T) {
	st := run(base(), "pip install flask",
		llb.AddMount("/root/.cache", llb.Scratch(), llb.AsPersistentCacheDir("mine", llb.CacheMountShared)))
	res := transform(t, marshal(t, st), Options{})
	if res.Changed {
		t.Fatalf("added a mount under the user's own: %+v", res.Steps[0].Mounts)
	}
}

func TestManagersOption(t *testing.T) {
	st := run(base(), "pip install flask")
	res := transform(t, marshal(t, st), Options{Managers: []string{"apt", "go"}})
	if res.Changed {
		t.Fatal("pip was disabled but the step changed")
	}
}

// BenchmarkTransform measures the rewrite of a 40-step graph with one
// package-manager step in four; BenchmarkTransformUntouched the cost on a
// graph it leaves alone (the common case for non-RUN solves).
func BenchmarkTransform(b *testing.B) {
	benchmarkTransform(b, []string{"apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*", "echo a", "pip install --no-cache-dir -r r.txt", "make build"})
}

func BenchmarkTransformUntouched(b *testing.B) {
	benchmarkTransform(b, []string{"echo a", "make build", "./configure", "ls -la"})
}

func benchmarkTransform(b *testing.B, scripts []string) {
	st := base()
	for i := range 40 {
		st = run(st, scripts[i%len(scripts)]+" # "+string(rune('a'+i%26)))
	}
	def, err := st.Marshal(context.Background(), llb.Platform(linux))
	if err != nil {
		b.Fatal(err)
	}
	in := def.ToPB()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Transform(context.Background(), in, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestKeptPathsFollowReadersAndDescendants(t *testing.T) {
	deps := run(llb.Image("docker.io/library/golang:1.26", llb.Platform(linux)), "go mod download")
	build := run(deps, "go build -o /out/app .")
	other := run(base(), "pip wheel -w /wheels flask")
	final := llb.Image("docker.io/library/debian:bookworm-slim", llb.Platform(linux)).
		File(llb.Copy(deps, "/root/go/pkg/mod", "/mods")).
		File(llb.Copy(build, "/out/app", "/app"))
	final = run(final, "ls", llb.AddMount("/wheels", other, llb.SourcePath("/wheels"), llb.Readonly))
	in := marshal(t, final)
	res := transform(t, in, Options{})
	byScript := map[string]Step{}
	for _, s := range res.Steps {
		byScript[s.Args[len(s.Args)-1]] = s
	}
	targets := func(s Step) []string {
		var out []string
		for _, m := range s.Mounts {
			out = append(out, m.Target)
		}
		return out
	}
	if got := targets(byScript["go mod download"]); slices.Contains(got, "/root/go/pkg/mod") {
		t.Errorf("module cache read by COPY --from was cached: %v", got)
	}
	if got := targets(byScript["go build -o /out/app ."]); slices.Contains(got, "/root/go/pkg/mod") || !slices.Contains(got, "/root/.cache/go-build") {
		t.Errorf("a step built on the kept modules: %v", got)
	}
	if got := targets(byScript["pip wheel -w /wheels flask"]); !slices.Equal(got, []string{"/root/.cache/pip", "/root/.cache/pip/wheels"}) {
		t.Errorf("a stage read only at /wheels keeps its pip cache: %v", got)
	}
}

// TestKeptPathsStayWithTheStateCopiedFrom: a path read out of a state is
// kept in that state's steps and in the steps built on them, not in the
// stage it is copied into: there it lands under its destination (a whole
// stage or a build context given as an input copied with `COPY . /src`).
func TestKeptPathsStayWithTheStateCopiedFrom(t *testing.T) {
	build := run(base(), "pip install flask")
	final := base().File(llb.Copy(build, "/", "/src"))
	final = run(final, "pip install requests")
	res := transform(t, marshal(t, final), Options{})
	for _, s := range res.Steps {
		got := mountOf(s, "/root/.cache/pip")
		switch script := s.Args[len(s.Args)-1]; script {
		case "pip install flask":
			if got != nil {
				t.Errorf("%q: a cache at a path read by the copy: %+v", script, s.Mounts)
			}
		case "pip install requests":
			if got == nil {
				t.Errorf("%q: no cache in the stage copied into: notes %q", script, s.Notes)
			}
		}
	}
}

func TestNamedUserResolvedFromTheStepsRootfs(t *testing.T) {
	st := run(base(), "useradd -m app")
	st = run(st, "pip install --user flask", llb.User("app"))
	var asked []*pb.Definition
	opt := Options{Images: fakeImages{accounts: func(ctx context.Context, rootfs *pb.Definition) ([]byte, []byte, error) {
		asked = append(asked, rootfs)
		return []byte("root:x:0:0:root:/root:/bin/bash\napp:x:1001:1001::/home/app:/bin/sh\n"), []byte("app:x:1001:\n"), nil
	}}}
	res := transform(t, marshal(t, st), opt)
	if len(asked) != 1 {
		t.Fatalf("accounts read %d times", len(asked))
	}
	// The filesystem asked about is the result of the useradd step.
	if _, err := llbsolver.Load(context.Background(), asked[0], nil); err != nil {
		t.Fatalf("sub-definition does not load: %v", err)
	}
	order, m := ops(t, asked[0])
	if head := m[order[len(order)-1]].Inputs[0].Digest; head != string(res.Steps[0].Digest) {
		t.Fatalf("asked about %s, want the useradd step %s", head, res.Steps[0].Digest)
	}
	pip := res.Steps[1]
	if len(pip.Mounts) != 1 || pip.Mounts[0].Target != "/home/app/.cache/pip" || pip.Mounts[0].UID != 1001 || pip.Mounts[0].GID != 1001 {
		t.Fatalf("mounts %+v (notes %v)", pip.Mounts, pip.Notes)
	}
	for _, e := range pip.Env {
		if strings.HasPrefix(e, "HOME=") {
			t.Errorf("HOME added to the step's env: %v", pip.Env)
		}
	}
	if pip.User != "app" {
		t.Errorf("user %q", pip.User)
	}
	// Unknown users are left alone.
	opt.Images = fakeImages{accounts: func(context.Context, *pb.Definition) ([]byte, []byte, error) {
		return []byte("root:x:0:0::/root:/bin/sh\n"), nil, nil
	}}
	if res := transform(t, marshal(t, st), opt); len(res.Steps[1].Mounts) != 0 {
		t.Errorf("an unknown user got caches: %+v", res.Steps[1].Mounts)
	}
}
