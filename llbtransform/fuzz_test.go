package llbtransform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
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

// FuzzTransform: definitions built with client/llb from the fuzzer's bytes
// (images, steps with all kinds of mounts, users and networks, file
// operations, merges, diffs, several stages) and options (cache namespace,
// scope, managers, the probe, and images whose reads answer, or fail,
// according to the bytes). Every output loads in the solver, a second
// transform gives the same bytes, every op that neither is a rewritten step
// nor depends on one is byte for byte the input's, and the others differ
// from the input only in what the transform may change.
func FuzzTransform(f *testing.F) {
	for _, s := range [][]byte{
		{},
		{1, 0, 0, 0},                      // pip on python
		{0, 1, 1, 1, 1, 0, 1, 2, 3},       // debian, apt
		{0, 2, 1, 3, 4, 2, 1, 4, 0, 1, 5}, // golang, go mod download, go build
		{1, 0, 5, 3, 2, 2, 1, 1, 0, 3, 0, 1, 4, 2},
		{2, 1, 2, 3, 1, 0, 7, 0, 0, 1, 1, 1, 0, 0, 3, 0, 1, 2, 1, 0, 4},
		{0, 6, 1, 8, 0, 0, 1, 0, 0, 1, 10, 3, 1, 0},
		{0xff, 0x80, 0x7f, 0x10, 0x01, 0x33, 0x05, 0x02, 0x11, 0x09, 0x4a, 0x02},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		g := &gen{data: data}
		in, opt := g.definition()
		if in == nil {
			return
		}
		if _, err := llbsolver.Load(ctx, in, nil); err != nil {
			return // not something the solver takes in the first place
		}
		before := deterministic(t, in)
		res, err := Transform(ctx, in, opt)
		if err != nil {
			t.Fatalf("transform: %v", err)
		}
		if !bytes.Equal(deterministic(t, in), before) {
			t.Fatal("the input was modified")
		}
		if _, err := llbsolver.Load(ctx, res.Def, nil, llbsolver.WithValidateCaps()); err != nil {
			t.Fatalf("output does not load: %v", err)
		}
		again, err := Transform(ctx, in, g.options(opt))
		if err != nil || !bytes.Equal(deterministic(t, again.Def), deterministic(t, res.Def)) {
			t.Fatalf("a second transform differs (%v)", err)
		}
		checkOps(t, in, res)
	})
}

func deterministic(t *testing.T, def *pb.Definition) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkOps compares res with its input op by op.
func checkOps(t *testing.T, in *pb.Definition, res *Result) {
	outOps := map[digest.Digest]*pb.Op{}
	for _, dt := range res.Def.Def {
		var op pb.Op
		if err := op.Unmarshal(dt); err != nil {
			t.Fatal(err)
		}
		outOps[digest.FromBytes(dt)] = &op
	}
	steps := map[digest.Digest]Step{}
	for _, s := range res.Steps {
		steps[s.OldDigest] = s
	}
	renamed := map[string]string{}
	execs := 0
	for i, dt := range in.Def {
		old := digest.FromBytes(dt)
		var op pb.Op
		if err := op.Unmarshal(dt); err != nil {
			t.Fatal(err)
		}
		if i == len(in.Def)-1 && op.Op == nil {
			old = "" // the terminal op has no metadata
		}
		// What the op is with only its inputs renamed.
		moved, b := op.CloneVT(), dt
		for _, inp := range moved.Inputs {
			if n, ok := renamed[inp.Digest]; ok {
				inp.Digest = n
			}
		}
		if !proto.Equal(moved, &op) {
			var err error
			if b, err = moved.Marshal(); err != nil {
				t.Fatal(err)
			}
		}
		want := digest.FromBytes(b)
		got := want
		if op.GetExec() != nil {
			execs++
			s, ok := steps[old]
			if !ok {
				t.Fatalf("no step for exec %s", old)
			}
			got = s.Digest
			if s.Rewritten || s.Probed {
				checkRewritten(t, moved, outOps[got], s)
			} else if got != want {
				t.Fatalf("step %s not rewritten, yet %s, want %s", old, got, want)
			}
		}
		if outOps[got] == nil {
			t.Fatalf("op %s (%v) missing from the output", old, op.Op)
		}
		if old != "" && string(got) != string(old) {
			renamed[string(old)] = string(got)
		}
		if old != "" {
			checkMeta(t, in, res.Def, old, got, op.GetExec() != nil)
		}
	}
	if execs != len(res.Steps) {
		t.Fatalf("%d steps for %d execs", len(res.Steps), execs)
	}
	for k := range res.Def.GetSource().GetLocations() {
		if outOps[digest.Digest(k)] == nil {
			t.Fatalf("locations of %s, which is not in the output", k)
		}
	}
}

// checkRewritten: a rewritten step keeps its inputs and mounts first, and
// changes only its argv and env besides.
func checkRewritten(t *testing.T, moved, out *pb.Op, s Step) {
	if out == nil {
		t.Fatalf("rewritten step %s missing", s.Digest)
	}
	ex, oex := moved.GetExec(), out.GetExec()
	if len(out.Inputs) < len(moved.Inputs) || !slices.EqualFunc(out.Inputs[:len(moved.Inputs)], moved.Inputs, eqProto[*pb.Input]) {
		t.Fatalf("inputs %v, want %v first", out.Inputs, moved.Inputs)
	}
	if len(oex.Mounts) != len(ex.Mounts)+len(s.Mounts) || !slices.EqualFunc(oex.Mounts[:len(ex.Mounts)], ex.Mounts, eqProto[*pb.Mount]) {
		t.Fatalf("mounts %v, want %v first, then %d", oex.Mounts, ex.Mounts, len(s.Mounts))
	}
	for i, m := range oex.Mounts[len(ex.Mounts):] {
		if m.Dest != s.Mounts[i].Target {
			t.Fatalf("mount %d at %s, reported at %s", i, m.Dest, s.Mounts[i].Target)
		}
	}
	meta, ometa := ex.Meta.CloneVT(), oex.Meta.CloneVT()
	if !slices.Equal(ometa.Args, s.Args) || !slices.Equal(ometa.Env, s.Env) {
		t.Fatalf("argv %q env %q, reported %q %q", ometa.Args, ometa.Env, s.Args, s.Env)
	}
	meta.Args, meta.Env, ometa.Args, ometa.Env = nil, nil, nil, nil
	moved, out = moved.CloneVT(), out.CloneVT()
	moved.Inputs, out.Inputs = nil, nil
	moved.GetExec().Mounts, out.GetExec().Mounts = nil, nil
	moved.GetExec().Meta, out.GetExec().Meta = nil, nil
	if !proto.Equal(meta, ometa) || !proto.Equal(moved, out) {
		t.Fatalf("step changed beyond argv, env, inputs and mounts:\n%v\n%v", moved, out)
	}
}

// checkMeta: an op's metadata and locations follow it. A step's progress
// name may get autocache's suffix and its caps may grow; nothing else of
// its metadata changes.
func checkMeta(t *testing.T, in, out *pb.Definition, old, now digest.Digest, exec bool) {
	md, omd := in.Metadata[string(old)], out.Metadata[string(now)]
	if (md == nil) != (omd == nil) {
		t.Fatalf("metadata of %s: %v, now %v", old, md, omd)
	}
	if md != nil {
		md, omd = md.CloneVT(), omd.CloneVT()
		name, oname := md.GetDescription()["llb.customname"], omd.GetDescription()["llb.customname"]
		if exec {
			if oname != name && !strings.HasPrefix(oname, name+" [autocache: ") {
				t.Fatalf("progress name %q, was %q", oname, name)
			}
			for c := range md.Caps {
				if !omd.Caps[c] {
					t.Fatalf("cap %s dropped", c)
				}
			}
			delete(md.Description, "llb.customname")
			delete(omd.Description, "llb.customname")
			md.Caps, omd.Caps = nil, nil
		}
		if !proto.Equal(md, omd) {
			t.Fatalf("metadata of %s: %v, now %v", old, md, omd)
		}
	}
	if l, ol := in.GetSource().GetLocations()[string(old)], out.GetSource().GetLocations()[string(now)]; !proto.Equal(l, ol) {
		t.Fatalf("locations of %s: %v, now %v", old, l, ol)
	}
}

func eqProto[T proto.Message](a, b T) bool { return proto.Equal(a, b) }

// gen turns the fuzzer's bytes into a definition and options; when the
// bytes run out it reads zeros.
type gen struct {
	data []byte
	pos  int
	seed byte // how the fake images answer
}

func (g *gen) next() int {
	if g.pos >= len(g.data) {
		g.pos++
		return 0
	}
	b := g.data[g.pos]
	g.pos++
	return int(b)
}

func (g *gen) pick(n int) int { return g.next() % n }

var (
	fuzzImages = []string{"docker.io/library/python:3.11-slim", "docker.io/library/debian:bookworm-slim",
		"docker.io/library/golang:1.26", "docker.io/library/node:22", "docker.io/library/alpine:3.20",
		"registry.access.redhat.com/ubi9/ubi-minimal:9.6", "docker.io/library/ruby:3.4", "docker.io/library/rust:1"}
	fuzzScripts = []string{"pip install --no-cache-dir flask", "apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*",
		"npm ci", "go mod download", "go build -o /out/app ./...", "make", "echo hi > /x", "apk add --no-cache git",
		"microdnf install -y tar && microdnf clean all", "cargo build --release", "rm -rf /root/.cache", "useradd -m app",
		"mvn -B package", "yarn install --frozen-lockfile", "gem install rails", "bundle install", "composer install",
		"dotnet restore", "pip install --user x && pip cache purge", "go clean -modcache", "ls /go/pkg/mod > /list", "uv sync"}
	fuzzPaths = []string{"/", "/root/.cache/pip", "/go/pkg/mod", "/app", "/root", "/var/cache/apt", "/out", "/root/.npm",
		"/home/app", "/root/.cache", "/usr/local/cargo/registry", "/var/lib/apt/lists", "/src"}
	fuzzEnv   = []string{"HOME=/home/app", "PIP_NO_CACHE_DIR=1", "GOPATH=/go", "npm_config_cache=/npmc", "CARGO_HOME=/usr/local/cargo", "XDG_CACHE_HOME=/cache"}
	fuzzUsers = []string{"", "root", "1000:1000", "app", "node", "0:0"}
)

func (g *gen) path() string { return fuzzPaths[g.pick(len(fuzzPaths))] }

// definition builds up to 12 states and marshals the last one or a merge
// of all.
func (g *gen) definition() (*pb.Definition, Options) {
	// The options and the shape first, while there are bytes.
	flags := g.next()
	opt := Options{Probe: flags&1 != 0}
	if flags&2 != 0 {
		opt.CacheNS = "ns"
	}
	if flags&12 == 12 {
		opt.Scope = "team"
	}
	if flags&48 == 48 {
		opt.Managers = []string{"apt", "go", "npm"}
	}
	mergeAll := flags&64 == 0
	g.seed = byte(g.next())
	sm := llb.NewSourceMap(nil, "Dockerfile", "Dockerfile", []byte("FROM x\n"))
	loc := func() llb.ConstraintsOpt {
		line := int32(g.pick(40) + 1)
		return sm.Location([]*pb.Range{{Start: &pb.Position{Line: line}, End: &pb.Position{Line: line}}})
	}
	plat := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	if g.pick(4) == 0 {
		plat.Architecture = "arm64"
	}
	some := func(pool []llb.State) llb.State { return pool[g.pick(len(pool))] }
	pool := []llb.State{llb.Image(fuzzImages[g.pick(len(fuzzImages))], llb.Platform(plat))}
	for n := g.pick(12) + 1; n > 0; n-- {
		switch g.pick(7) {
		case 0:
			pool = append(pool, llb.Image(fuzzImages[g.pick(len(fuzzImages))], llb.Platform(plat)))
		case 1, 2, 3:
			script := fuzzScripts[g.pick(len(fuzzScripts))]
			if g.pick(3) == 0 {
				script += " && " + fuzzScripts[g.pick(len(fuzzScripts))]
			}
			opts := []llb.RunOption{llb.Args([]string{"/bin/sh", "-c", script}), llb.WithCustomName("RUN " + script), loc()}
			if u := fuzzUsers[g.pick(len(fuzzUsers))]; u != "" {
				opts = append(opts, llb.User(u))
			}
			for k := g.pick(3); k > 0; k-- {
				kv := strings.SplitN(fuzzEnv[g.pick(len(fuzzEnv))], "=", 2)
				opts = append(opts, llb.AddEnv(kv[0], kv[1]))
			}
			if g.pick(2) == 0 {
				opts = append(opts, llb.Dir(g.path()))
			}
			if g.pick(5) == 0 {
				opts = append(opts, llb.Network(pb.NetMode_NONE))
			}
			var targets []string
			for k := g.pick(3); k > 0; k-- {
				dest := g.path()
				if dest == "/" || slices.Contains(targets, dest) {
					continue
				}
				targets = append(targets, dest)
				switch g.pick(5) {
				case 0:
					opts = append(opts, llb.AddMount(dest, llb.Scratch(), llb.AsPersistentCacheDir("c"+dest, llb.CacheMountShared)))
				case 1:
					mo := []llb.MountOption{llb.SourcePath(g.path())}
					if g.pick(2) == 0 {
						mo = append(mo, llb.Readonly)
					}
					opts = append(opts, llb.AddMount(dest, some(pool), mo...))
				case 2:
					opts = append(opts, llb.AddMount(dest, llb.Scratch(), llb.Tmpfs()))
				case 3:
					opts = append(opts, llb.AddSecret(dest+"/secret", llb.SecretID("s")))
				case 4:
					opts = append(opts, llb.AddSSHSocket())
				}
			}
			es := some(pool).Run(opts...)
			pool = append(pool, es.Root())
			if len(targets) > 0 && g.pick(3) == 0 {
				pool = append(pool, es.GetMount(targets[0]))
			}
		case 4:
			base, p := some(pool), g.path()
			var a *llb.FileAction
			switch g.pick(4) {
			case 0:
				a = llb.Mkdir(p, 0o755, llb.WithParents(true))
			case 1:
				a = llb.Mkfile(p+"/f", 0o644, []byte("x"))
			case 2:
				a = llb.Copy(some(pool), g.path(), p, &llb.CopyInfo{CreateDestPath: true, AllowWildcard: true, AllowEmptyWildcard: true})
			case 3:
				a = llb.Rm(p, llb.WithAllowNotFound(true))
			}
			pool = append(pool, base.File(a, loc()))
		case 5:
			pool = append(pool, llb.Merge([]llb.State{some(pool), some(pool)}, loc()))
		case 6:
			pool = append(pool, llb.Diff(some(pool), some(pool), loc()))
		}
	}
	final := pool[len(pool)-1]
	if len(pool) > 1 && mergeAll {
		final = llb.Merge(pool) // every state, not only what the last needs
	}
	def, err := final.Marshal(context.Background(), llb.Platform(plat))
	if err != nil {
		return nil, Options{}
	}
	return def.ToPB(), g.options(opt)
}

// options gives opt a fresh fake Images that answers from g.seed, or none.
func (g *gen) options(opt Options) Options {
	opt.Images = nil
	if g.seed%4 != 0 {
		opt.Images = seededImages(g.seed)
	}
	return opt
}

// seededImages answers every question from a hash of the question and a
// seed: the same seed, the same answers.
type seededImages byte

var errFuzz = errors.New("fuzzed failure")

func (s seededImages) roll(parts ...string) uint32 {
	h := fnv.New32a()
	fmt.Fprint(h, byte(s), parts)
	return h.Sum32()
}

func defKey(def *pb.Definition) string {
	if len(def.Def) == 0 {
		return ""
	}
	return string(digest.FromBytes(def.Def[len(def.Def)-1]))
}

func (s seededImages) Accounts(_ context.Context, rootfs *pb.Definition) ([]byte, []byte, error) {
	switch s.roll("accounts", defKey(rootfs)) % 5 {
	case 0:
		return nil, nil, errFuzz
	case 1:
		return []byte("root:x:0:0::/root:/bin/sh\n"), nil, nil
	}
	return []byte("root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nnode:x:1001:1001::/home/node:/bin/sh\n"),
		[]byte("app:x:1000:\nnode:x:1001:\n"), nil
}

func (s seededImages) Contents(_ context.Context, def *pb.Definition, dir string) ([]string, error) {
	switch s.roll("contents", defKey(def), dir) % 6 {
	case 0:
		return nil, errFuzz
	case 1:
		return []string{"lock", "partial", "x"}, nil
	case 2:
		return []string{"_logs"}, nil
	}
	return nil, nil
}

func (s seededImages) OSRelease(_ context.Context, def *pb.Definition) ([]byte, error) {
	switch s.roll("release", defKey(def)) % 3 {
	case 0:
		return nil, errFuzz
	case 1:
		return []byte("ID=\"rhel\"\nVERSION_ID=\"9.6\"\n"), nil
	}
	return nil, nil
}
