package frontend

import (
	"context"
	"errors"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	fstypes "github.com/tonistiigi/fsutil/types"
)

// fakeGateway is the gateway client that BuildKit gives a frontend, for
// running Build without a daemon. One file tree answers every reference:
// the build context's Dockerfile and the image files the frontend reads.
// Every image resolves to the same config. Solves are recorded.
type fakeGateway struct {
	opts   map[string]string
	caps   *apicaps.CapSet      // LLB caps; nil: all
	files  map[string]string    // path → content; a path ending in "/" is a directory
	inputs map[string]llb.State // the client's frontend inputs

	mu     sync.Mutex
	solves []client.SolveRequest
}

func newGateway(dockerfile string, opts map[string]string, image map[string]string) *fakeGateway {
	files := map[string]string{"Dockerfile": dockerfile}
	for k, v := range image {
		files[k] = v
	}
	return &fakeGateway{opts: opts, files: files}
}

var amd64 = ocispecs.Platform{OS: "linux", Architecture: "amd64"}

func (g *fakeGateway) BuildOpts() client.BuildOpts {
	caps := pb.Caps.CapSet(pb.Caps.All())
	if g.caps != nil {
		caps = *g.caps
	}
	return client.BuildOpts{
		Opts:      g.opts,
		SessionID: "session",
		Workers:   []client.WorkerInfo{{ID: "w", Platforms: []ocispecs.Platform{amd64}}},
		LLBCaps:   caps,
		Caps:      gwpb.Caps.CapSet(gwpb.Caps.All()),
	}
}

func (g *fakeGateway) Solve(_ context.Context, req client.SolveRequest) (*client.Result, error) {
	g.mu.Lock()
	g.solves = append(g.solves, req)
	g.mu.Unlock()
	res := client.NewResult()
	res.SetRef(fakeRef{g})
	return res, nil
}

// builds are the definitions solved that run a step: the build's own, not
// the Dockerfile's read nor the image reads.
func (g *fakeGateway) builds() []*pb.Definition {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*pb.Definition
	for _, req := range g.solves {
		if req.Definition == nil || req.Evaluate {
			continue
		}
		for _, dt := range req.Definition.Def {
			var op pb.Op
			if op.Unmarshal(dt) == nil && op.GetExec() != nil {
				out = append(out, req.Definition)
				break
			}
		}
	}
	return out
}

const imageConfig = `{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/bin:/usr/bin:/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000001"]}}`

var imageDigest = digest.FromString(imageConfig)

func (g *fakeGateway) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	return ref, imageDigest, []byte(imageConfig), nil
}

func (g *fakeGateway) ResolveSourceMetadata(_ context.Context, op *pb.SourceOp, _ sourceresolver.Opt) (*sourceresolver.MetaResponse, error) {
	return &sourceresolver.MetaResponse{Op: op, Image: &sourceresolver.ResolveImageResponse{Digest: imageDigest, Config: []byte(imageConfig)}}, nil
}

func (g *fakeGateway) Inputs(context.Context) (map[string]llb.State, error) {
	if g.inputs == nil {
		return map[string]llb.State{}, nil
	}
	return g.inputs, nil
}

func (g *fakeGateway) NewContainer(context.Context, client.NewContainerRequest) (client.Container, error) {
	return nil, errors.New("no containers here")
}

func (g *fakeGateway) Warn(context.Context, digest.Digest, string, client.WarnOpts) error {
	return nil
}

// fakeRef reads the gateway's file tree.
type fakeRef struct{ g *fakeGateway }

func (r fakeRef) ToState() (llb.State, error)    { return llb.Scratch(), nil }
func (r fakeRef) Evaluate(context.Context) error { return nil }

func (r fakeRef) ReadFile(_ context.Context, req client.ReadRequest) ([]byte, error) {
	c, ok := r.g.files[req.Filename]
	if !ok {
		return nil, errors.New("no such file or directory")
	}
	if req.Range != nil && len(c) > req.Range.Length {
		c = c[:req.Range.Length]
	}
	return []byte(c), nil
}

func (r fakeRef) StatFile(_ context.Context, req client.StatRequest) (*fstypes.Stat, error) {
	c, ok := r.g.files[req.Path]
	if !ok {
		return nil, errors.New("no such file or directory")
	}
	return &fstypes.Stat{Path: path.Base(req.Path), Mode: 0o644, Size: int64(len(c))}, nil
}

// ReadDir lists the entries right under req.Path: files and directories
// named in the tree, and the directories on the way to them.
func (r fakeRef) ReadDir(_ context.Context, req client.ReadDirRequest) ([]*fstypes.Stat, error) {
	dir := strings.TrimSuffix(req.Path, "/") + "/"
	found := dir == "/"
	seen := map[string]bool{}
	var out []*fstypes.Stat
	for p := range r.g.files {
		rest, ok := strings.CutPrefix(p, dir)
		if !ok || !strings.HasPrefix(p, "/") {
			continue
		}
		found = true
		name, sub, isDir := strings.Cut(rest, "/")
		isDir = isDir || sub != ""
		if name == "" || seen[name] || req.IncludePattern != "" && name != req.IncludePattern {
			continue
		}
		seen[name] = true
		st := &fstypes.Stat{Path: name, Mode: 0o644}
		if isDir {
			st.Mode = uint32(os.ModeDir | 0o755)
		}
		out = append(out, st)
	}
	if !found {
		return nil, errors.New("no such file or directory")
	}
	return out, nil
}

// errHang makes a faulty read block until its context ends.
var errHang = errors.New("hang")

// faultyGateway wraps a gateway client: the references it returns fail
// the reads that fault names ("ReadFile /etc/passwd", "ReadDir /root"),
// or hang on them until their context ends (errHang).
type faultyGateway struct {
	client.Client
	fault func(read string) error
}

func (f *faultyGateway) Solve(ctx context.Context, req client.SolveRequest) (*client.Result, error) {
	res, err := f.Client.Solve(ctx, req)
	if err != nil || res == nil {
		return res, err
	}
	if res.Ref != nil {
		res.SetRef(faultyRef{res.Ref, f.fault})
	}
	for k, r := range res.Refs {
		res.Refs[k] = faultyRef{r, f.fault}
	}
	return res, nil
}

type faultyRef struct {
	client.Reference
	fault func(read string) error
}

func (r faultyRef) inject(ctx context.Context, read string) error {
	err := r.fault(read)
	if errors.Is(err, errHang) {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (r faultyRef) ReadFile(ctx context.Context, req client.ReadRequest) ([]byte, error) {
	if err := r.inject(ctx, "ReadFile "+req.Filename); err != nil {
		return nil, err
	}
	return r.Reference.ReadFile(ctx, req)
}

func (r faultyRef) ReadDir(ctx context.Context, req client.ReadDirRequest) ([]*fstypes.Stat, error) {
	if err := r.inject(ctx, "ReadDir "+req.Path); err != nil {
		return nil, err
	}
	return r.Reference.ReadDir(ctx, req)
}

func (r faultyRef) StatFile(ctx context.Context, req client.StatRequest) (*fstypes.Stat, error) {
	if err := r.inject(ctx, "StatFile "+req.Path); err != nil {
		return nil, err
	}
	return r.Reference.StatFile(ctx, req)
}
