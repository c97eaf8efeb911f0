package frontend

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// emptyResolver gives every base image a config with one layer and nothing else.
type emptyResolver struct{}

func (emptyResolver) ResolveImageConfig(ctx context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	return ref, "", []byte(`{"rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("0", 64) + `"]}}`), nil
}

// dockerfileDef converts a Dockerfile as upstream's builder does: the
// definition carries the Dockerfile in its source info.
func dockerfileDef(t *testing.T, df string) *pb.Definition {
	t.Helper()
	p := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	res, err := dockerfile2llb.Dockerfile2LLB(context.Background(), []byte(df), dockerfile2llb.ConvertOpt{
		Config:         dockerui.Config{BuildPlatforms: []ocispecs.Platform{p}},
		SourceMap:      llb.NewSourceMap(nil, "Dockerfile", "Dockerfile", []byte(df)),
		MetaResolver:   emptyResolver{},
		TargetPlatform: &p,
	})
	if err != nil {
		t.Fatal(err)
	}
	def, err := res.State.Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return def.ToPB()
}

// solveOnce sends one definition through a rewriting client with the
// build's options and returns what reached the solver.
func solveOnce(t *testing.T, def *pb.Definition, opts map[string]string) (*pb.Definition, *rewritingClient, error) {
	t.Helper()
	rec := &recordingClient{}
	rc := &rewritingClient{Client: rec, opt: mustOptions(t, opts)}
	_, err := rc.Solve(context.Background(), client.SolveRequest{Definition: def})
	if err != nil {
		return nil, rc, err
	}
	return rec.reqs[0].Definition, rc, nil
}

const twoSteps = `FROM debian
RUN apt-get update && apt-get install -y python3-pip
RUN pip install flask
`

func TestDirectiveOffPassesTheDefinitionThrough(t *testing.T) {
	def := dockerfileDef(t, "# syntax=example/autocache:1\n# autocache=off\n"+twoSteps)
	got, rc, err := solveOnce(t, def, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != def || rc.rewritten.Load() != 0 {
		t.Fatalf("a definition under `# autocache=off` was changed (%d steps)", rc.rewritten.Load())
	}
	// Without the directive, the same Dockerfile is rewritten: the test can fail.
	if _, rc, _ := solveOnce(t, dockerfileDef(t, twoSteps), nil); rc.rewritten.Load() != 2 {
		t.Fatalf("rewritten %d, want 2", rc.rewritten.Load())
	}
}

func TestDirectiveManagersNarrowTheBuildArg(t *testing.T) {
	def := dockerfileDef(t, "# autocache=managers=apt,pip\n"+twoSteps)
	for _, tc := range []struct {
		opts map[string]string
		want []string
	}{
		{nil, []string{"/linux/amd64//var/cache/apt", "//root/.cache/pip", "/from:docker.io/library/debian:latest//root/.cache/pip/wheels"}},
		{map[string]string{"build-arg:AUTOCACHE_MANAGERS": "pip,go"}, []string{"//root/.cache/pip", "/from:docker.io/library/debian:latest//root/.cache/pip/wheels"}},
		{map[string]string{"build-arg:AUTOCACHE_MANAGERS": "go"}, nil},
	} {
		got, _, err := solveOnce(t, def, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if ids := cacheMounts(t, got); !slices.Equal(ids, tc.want) {
			t.Errorf("%v: cache ids %q, want %q", tc.opts, ids, tc.want)
		}
	}
	if _, _, err := solveOnce(t, dockerfileDef(t, "# autocache=managers=pip\n"+twoSteps), nil); err != nil {
		t.Fatal(err)
	}
}

func TestCommentLeavesOneStepAlone(t *testing.T) {
	def := dockerfileDef(t, "FROM debian\nRUN apt-get update && apt-get install -y python3-pip\n# autocache: off\nRUN pip install flask\n")
	got, rc, err := solveOnce(t, def, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ids := cacheMounts(t, got); !slices.Equal(ids, []string{"/linux/amd64//var/cache/apt"}) || rc.rewritten.Load() != 1 {
		t.Fatalf("cache ids %q, %d rewritten", ids, rc.rewritten.Load())
	}
}

func TestBadSettingFailsWithItsLine(t *testing.T) {
	def := dockerfileDef(t, "FROM debian\n# autocache: of\nRUN pip install flask\n")
	_, _, err := solveOnce(t, def, nil)
	srcs := errdefs.Sources(err)
	if err == nil || len(srcs) != 1 || srcs[0].Ranges[0].Start.Line != 2 || srcs[0].Info.Filename != "Dockerfile" {
		t.Fatalf("error %v, sources %v", err, srcs)
	}
	if !strings.Contains(err.Error(), "autocache: `# autocache: of`: the only setting for one step is `# autocache: off`") {
		t.Fatalf("error %q", err)
	}
}
