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

func golang() llb.State {
	return llb.Image("docker.io/library/golang:1.26", llb.Platform(linux)).
		AddEnv("PATH", "/go/bin:/usr/local/go/bin:/usr/bin:/bin").AddEnv("GOPATH", "/go").Dir("/src")
}

// byScript indexes steps by their script (the last argument).
func byScript(res *Result) map[string]Step {
	m := map[string]Step{}
	for _, s := range res.Steps {
		m[s.Args[len(s.Args)-1]] = s
	}
	return m
}

func mountOf(s Step, target string) *Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Target == target {
			return &s.Mounts[i]
		}
	}
	return nil
}

// pbMount is the mount at target of the step's op in the output.
func pbMount(t *testing.T, res *Result, s Step, target string) (*pb.Op, *pb.Mount) {
	t.Helper()
	_, m := ops(t, res.Def)
	op := m[s.Digest]
	for _, mnt := range op.GetExec().GetMounts() {
		if mnt.Dest == target {
			return op, mnt
		}
	}
	return op, nil
}

func hasNote(s Step, sub string) bool {
	return slices.ContainsFunc(s.Notes, func(n string) bool { return strings.Contains(n, sub) })
}

// fakeImages answers Images from functions; a nil one can't read that kind
// of fact (errors.ErrUnsupported), as if the transform had no Images for it.
type fakeImages struct {
	accounts func(context.Context, *pb.Definition) ([]byte, []byte, error)
	contents func(context.Context, *pb.Definition, string) ([]string, error)
	release  func(context.Context, *pb.Definition) ([]byte, error)
}

func (f fakeImages) Accounts(ctx context.Context, rootfs *pb.Definition) ([]byte, []byte, error) {
	if f.accounts == nil {
		return nil, nil, errors.ErrUnsupported
	}
	return f.accounts(ctx, rootfs)
}

func (f fakeImages) Contents(ctx context.Context, def *pb.Definition, dir string) ([]string, error) {
	if f.contents == nil {
		return nil, errors.ErrUnsupported
	}
	return f.contents(ctx, def, dir)
}

func (f fakeImages) OSRelease(ctx context.Context, def *pb.Definition) ([]byte, error) {
	if f.release == nil {
		return nil, errors.ErrUnsupported
	}
	return f.release(ctx, def)
}

// emptyImages is a Contents answer for images with nothing in any cache directory.
func emptyImages(calls *[]string) func(context.Context, *pb.Definition, string) ([]string, error) {
	return func(_ context.Context, _ *pb.Definition, dir string) ([]string, error) {
		if calls != nil {
			*calls = append(*calls, dir)
		}
		return nil, nil
	}
}

func TestLaterStepsFollowTheModuleCache(t *testing.T) {
	deps := run(golang(), "go mod download")
	build := run(deps, "make build")                      // not a package-manager step
	test := run(deps, "./test.sh", llb.User("1000:1000")) // another stage FROM deps
	final := llb.Merge([]llb.State{build, test})
	res := transform(t, marshal(t, final), Options{CacheNS: "ns", Images: fakeImages{contents: emptyImages(nil)}})
	steps := byScript(res)
	dl := steps["go mod download"]
	_, want := pbMount(t, res, dl, "/go/pkg/mod")
	if want == nil || want.CacheOpt.ID != "ns//go/pkg/mod" {
		t.Fatalf("producer mount %v", want)
	}
	for _, script := range []string{"make build", "./test.sh"} {
		s := steps[script]
		m := mountOf(s, "/go/pkg/mod")
		if m == nil || m.Follows != "step 1" || !s.Rewritten || len(s.Managers) != 0 {
			t.Fatalf("%s: mounts %+v notes %q", script, s.Mounts, s.Notes)
		}
		if mountOf(s, "/root/.cache/go-build") != nil {
			t.Errorf("%s got a cache its lineage never had", script)
		}
		_, got := pbMount(t, res, s, "/go/pkg/mod")
		if got == nil || got.CacheOpt.ID != want.CacheOpt.ID || got.CacheOpt.Sharing != want.CacheOpt.Sharing ||
			got.Input != int64(pb.Empty) || got.Output != int64(pb.SkipOutput) || got.MountType != pb.MountType_CACHE {
			t.Errorf("%s: mount %v, want like %v", script, got, want)
		}
		if !hasNote(s, "go: cache /go/pkg/mod (shared) follows step 1") {
			t.Errorf("%s: notes %q", script, s.Notes)
		}
		if name := res.Def.Metadata[string(s.Digest)].Description["llb.customname"]; !strings.HasSuffix(name, "[autocache: follows go]") {
			t.Errorf("%s: progress name %q", script, name)
		}
	}
}

func TestFollowedCacheKeepsItsOwner(t *testing.T) {
	st := run(base(), "pip install flask", llb.User("1000:1000"), llb.AddEnv("HOME", "/home/app"))
	st = run(st, "./after.sh", llb.User("1000:1000"))
	res := transform(t, marshal(t, st), Options{})
	pip, after := res.Steps[0], res.Steps[1]
	pipOp, pm := pbMount(t, res, pip, "/home/app/.cache/pip")
	afterOp, am := pbMount(t, res, after, "/home/app/.cache/pip")
	if pm == nil || am == nil || pm.Input < 0 || am.Input < 0 {
		t.Fatalf("mounts %v %v", pm, am)
	}
	// The same mkdir op, so the same cache (its key includes the input).
	if pipOp.Inputs[pm.Input].Digest != afterOp.Inputs[am.Input].Digest || am.Selector != "/cache" {
		t.Fatalf("follower's cache starts from %s, producer's from %s", afterOp.Inputs[am.Input].Digest, pipOp.Inputs[pm.Input].Digest)
	}
	if m := mountOf(after, "/home/app/.cache/pip"); m.UID != 1000 || m.GID != 1000 {
		t.Fatalf("follower mount %+v", m)
	}
}

func TestSystemManagerCachesStayWithTheirStep(t *testing.T) {
	st := llb.Image("docker.io/library/debian:bookworm-slim", llb.Platform(linux))
	st = run(st, "apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*")
	st = run(st, "./install.sh")
	res := transform(t, marshal(t, st), Options{})
	if s := res.Steps[1]; len(s.Mounts) != 0 || s.Rewritten {
		t.Fatalf("apt's caches given to a later step: %+v", s.Mounts)
	}
}

func TestNetworkNoneConsumerKeepsContentInTheLayers(t *testing.T) {
	deps := run(golang(), "go mod download")
	build := run(deps, "go build -o /app .", llb.Network(llb.NetModeNone))
	res := transform(t, marshal(t, build), Options{Images: fakeImages{contents: emptyImages(nil)}})
	steps := byScript(res)
	dl, b := steps["go mod download"], steps["go build -o /app ."]
	if len(dl.Mounts) != 0 || !hasNote(dl, "step 2 runs with --network=none") {
		t.Fatalf("producer: mounts %+v notes %q", dl.Mounts, dl.Notes)
	}
	// The modules are in the layer now: the build must not hide them; its
	// build cache is its own and fine.
	if mountOf(b, "/go/pkg/mod") != nil || mountOf(b, "/root/.cache/go-build") == nil {
		t.Fatalf("consumer: mounts %+v notes %q", b.Mounts, b.Notes)
	}
	if !hasNote(b, "skipped /go/pkg/mod: step 2 runs with --network=none") {
		t.Errorf("consumer notes %q", b.Notes)
	}

	// A consumer that mounts its own cache there does not need ours.
	own := run(deps, "go build -o /app .", llb.Network(llb.NetModeNone),
		llb.AddMount("/go/pkg/mod", llb.Scratch(), llb.AsPersistentCacheDir("mine", llb.CacheMountShared)))
	res = transform(t, marshal(t, own), Options{})
	if dl := byScript(res)["go mod download"]; mountOf(dl, "/go/pkg/mod") == nil {
		t.Fatalf("producer: mounts %+v notes %q", dl.Mounts, dl.Notes)
	}
}

func TestBaseImageContentIsNeverHidden(t *testing.T) {
	var calls []string
	contents := func(_ context.Context, def *pb.Definition, dir string) ([]string, error) {
		calls = append(calls, dir)
		// The sub-definition is the image alone.
		order, m := ops(t, def)
		if len(order) != 2 || m[order[0]].GetSource() == nil {
			t.Errorf("asked about %d ops, not the image", len(order))
		}
		switch dir {
		case "/go/pkg/mod":
			return []string{"cache", "cache/download", "example.com"}, nil
		case "/root/.cache/go-build":
			return nil, nil
		}
		return nil, errors.New("unexpected dir " + dir)
	}
	st := run(golang(), "go mod download")
	st = run(st, "go build .")
	st = run(st, "go vet ./...")
	res := transform(t, marshal(t, st), Options{Images: fakeImages{contents: contents}})
	for i, s := range res.Steps {
		if mountOf(s, "/go/pkg/mod") != nil {
			t.Errorf("step %d hides the image's module cache", i+1)
		}
		if !hasNote(s, "/go/pkg/mod has content in the base image (cache)") {
			t.Errorf("step %d notes %q", i+1, s.Notes)
		}
	}
	if mountOf(res.Steps[1], "/root/.cache/go-build") == nil || mountOf(res.Steps[2], "/root/.cache/go-build").Follows != "step 2" {
		t.Errorf("build cache: %+v / %+v", res.Steps[1].Mounts, res.Steps[2].Mounts)
	}
	// Asked once per directory of the image.
	if !slices.Equal(calls, []string{"/go/pkg/mod", "/root/.cache/go-build"}) {
		t.Errorf("asked %q", calls)
	}

	// Skeleton entries are not content; an error is not knowing.
	apt := run(llb.Image("docker.io/library/debian:bookworm-slim", llb.Platform(linux)),
		"apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*")
	res = transform(t, marshal(t, apt), Options{Images: fakeImages{contents: func(_ context.Context, _ *pb.Definition, dir string) ([]string, error) {
		if dir == "/var/lib/apt/lists" {
			return []string{"auxfiles", "lock", "partial", "partial/x.gz"}, nil
		}
		return nil, errors.New("boom")
	}}})
	s := res.Steps[0]
	if mountOf(s, "/var/lib/apt/lists") == nil || mountOf(s, "/var/cache/apt") != nil || !hasNote(s, "cannot read /var/cache/apt in the base image: boom") {
		t.Fatalf("apt: mounts %+v notes %q", s.Mounts, s.Notes)
	}
	// Its cleanup of the lists stays neutralized, its cleanup of the archives stays.
	if strings.Contains(s.Args[2], "rm -rf /var/lib/apt/lists") {
		t.Errorf("script %q", s.Args[2])
	}
}

func TestCopiedContentIsNeverHidden(t *testing.T) {
	src := llb.Local("context")
	// COPY into the module cache before the first go step.
	st := golang().File(llb.Copy(src, "vendor-mods", "/go/pkg/mod/example.com", &llb.CopyInfo{CreateDestPath: true}))
	st = run(st, "go build .")
	res := transform(t, marshal(t, st), Options{})
	if s := res.Steps[0]; mountOf(s, "/go/pkg/mod") != nil || !hasNote(s, "writes /go/pkg/mod/example.com") {
		t.Fatalf("mounts %+v notes %q", s.Mounts, s.Notes)
	}

	// COPY into it between the download and a later step: no cache at all.
	st = run(golang(), "go mod download")
	st = st.File(llb.Copy(src, "patch", "/go/pkg/mod/example.com/patch"))
	st = run(st, "make")
	res = transform(t, marshal(t, st), Options{})
	if s := res.Steps[0]; mountOf(s, "/go/pkg/mod") != nil || !hasNote(s, "and step 2 would not see it under the cache") {
		t.Fatalf("mounts %+v notes %q", s.Mounts, s.Notes)
	}
	if s := res.Steps[1]; len(s.Mounts) != 0 {
		t.Fatalf("make got %+v", s.Mounts)
	}

	// COPY from the context into a parent of the cache: only what it names.
	pip := base().File(llb.Copy(src, "requirements.txt", "/root/"))
	pip = pip.File(llb.Copy(src, ".", "/root/"))
	res = transform(t, marshal(t, run(pip, "pip install -r /root/requirements.txt")), Options{})
	if mountOf(res.Steps[0], "/root/.cache/pip") == nil {
		t.Fatalf("pip: %+v %q", res.Steps[0].Mounts, res.Steps[0].Notes)
	}
	pip = base().File(llb.Copy(src, "wheels", "/root/.cache/pip/"))
	res = transform(t, marshal(t, run(pip, "pip install -r /root/requirements.txt")), Options{})
	if mountOf(res.Steps[0], "/root/.cache/pip") != nil {
		t.Fatalf("pip over a copied directory: %+v", res.Steps[0].Mounts)
	}
	// From another stage, anything above the cache counts.
	pip = base().File(llb.Copy(golang(), "/root", "/root"))
	res = transform(t, marshal(t, run(pip, "pip install flask")), Options{})
	if mountOf(res.Steps[0], "/root/.cache/pip") != nil || !hasNote(res.Steps[0], "writes /root") {
		t.Fatalf("pip under a stage's copied /root: %+v %q", res.Steps[0].Mounts, res.Steps[0].Notes)
	}

	// WORKDIR and COPY elsewhere change nothing.
	st = golang().File(llb.Mkdir("/go/src/app", 0o755, llb.WithParents(true))).
		File(llb.Copy(src, ".", "/go/src/app"))
	st = run(st, "go mod download")
	st = run(st, "make")
	res = transform(t, marshal(t, st), Options{})
	if mountOf(res.Steps[1], "/go/pkg/mod") == nil {
		t.Fatalf("make: %+v %q", res.Steps[1].Mounts, res.Steps[0].Notes)
	}
}

func TestLineageIsDeterministic(t *testing.T) {
	deps := run(golang(), "go mod download")
	a := run(deps, "./a.sh", llb.User("1000:1000"))
	b := run(deps, "go build .", llb.Network(llb.NetModeNone))
	pipSt := run(base(), "pip install flask", llb.User("1000:1000"), llb.AddEnv("HOME", "/home/app"))
	pipSt = run(pipSt, "./after.sh")
	in := marshal(t, llb.Merge([]llb.State{a, b, pipSt}))
	opt := Options{CacheNS: "p", Images: fakeImages{contents: func(_ context.Context, def *pb.Definition, dir string) ([]string, error) {
		if strings.HasPrefix(dir, "/root") {
			return []string{"x"}, nil
		}
		return nil, nil
	}}}
	first := transform(t, in, opt)
	for range 5 {
		if again := transform(t, in, opt); !bytes.Equal(defBytes(t, first.Def), defBytes(t, again.Def)) {
			t.Fatal("same input gave different output")
		}
	}
	if c := transform(t, first.Def, opt); c.Changed {
		t.Fatal("a second transform changed the definition again")
	}
}

func TestNodeImagesNpmLogsAreNotContent(t *testing.T) {
	node := llb.Image("docker.io/library/node:18-slim", llb.Platform(linux)).AddEnv("PATH", "/usr/local/bin:/usr/bin:/bin")
	st := run(node, "npm ci")
	listing := []string{"_logs", "_logs/2026-11-27T06_34_35_733Z-debug-0.log", "_update-notifier-last-checked"}
	res := transform(t, marshal(t, st), Options{Images: fakeImages{contents: func(context.Context, *pb.Definition, string) ([]string, error) {
		return listing, nil
	}}})
	if mountOf(res.Steps[0], "/root/.npm") == nil {
		t.Fatalf("npm: mounts %+v notes %q", res.Steps[0].Mounts, res.Steps[0].Notes)
	}
	listing = append(listing, "_cacache")
	res = transform(t, marshal(t, st), Options{Images: fakeImages{contents: func(context.Context, *pb.Definition, string) ([]string, error) {
		return listing, nil
	}}})
	if mountOf(res.Steps[0], "/root/.npm") != nil || !hasNote(res.Steps[0], "(_cacache)") {
		t.Fatalf("npm cache with content: mounts %+v notes %q", res.Steps[0].Mounts, res.Steps[0].Notes)
	}
}

// A step with a secret or SSH mount may fetch what a later step can't (its
// credentials are gone): no later step may get a new cache over it. Caches
// that already follow the lineage stay, and the step itself is unaffected.
func TestCredentialedFetchIsNeverHidden(t *testing.T) {
	for _, mount := range []llb.RunOption{
		llb.AddSecret("/run/secrets/netrc", llb.SecretID("netrc")),
		llb.AddSSHSocket(),
	} {
		st := run(golang(), "make deps", mount)
		st = run(st, "go build .")
		res := transform(t, marshal(t, st), Options{})
		b := byScript(res)["go build ."]
		if mountOf(b, "/go/pkg/mod") != nil || !hasNote(b, "may not be fetchable without it") {
			t.Fatalf("go build after a credentialed step: mounts %+v notes %q", b.Mounts, b.Notes)
		}

		// A cache that follows from before the step stays mounted on it and after it.
		st = run(golang(), "go mod download")
		st = run(st, "make private-deps", mount)
		st = run(st, "go build .")
		res = transform(t, marshal(t, st), Options{})
		for _, script := range []string{"make private-deps", "go build ."} {
			if s := byScript(res)[script]; mountOf(s, "/go/pkg/mod") == nil {
				t.Fatalf("%s: mounts %+v notes %q", script, s.Mounts, s.Notes)
			}
		}

		// The step itself is cached as usual.
		res = transform(t, marshal(t, run(golang(), "go mod download", mount)), Options{})
		if s := res.Steps[0]; mountOf(s, "/go/pkg/mod") == nil {
			t.Fatalf("go mod download with its own secret: mounts %+v notes %q", s.Mounts, s.Notes)
		}
	}
}
