package frontend

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/autocache/autocache/llbtransform"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// warnClient is a fake gateway client: Solve records, Warn records.
type warnClient struct {
	recordingClient
	warnings []warning
}

type warning struct {
	vertex digest.Digest
	msg    string
	opts   client.WarnOpts
}

func (w *warnClient) Warn(ctx context.Context, dgst digest.Digest, msg string, opts client.WarnOpts) error {
	w.warnings = append(w.warnings, warning{dgst, msg, opts})
	return nil
}

// loadedDockerfile converts df as upstream's builder does, with the source
// map's definition being the one that loaded the Dockerfile (dockerui's
// ReadEntrypoint); it returns that definition's head too.
func loadedDockerfile(t *testing.T, df string) (*pb.Definition, digest.Digest) {
	t.Helper()
	return loadedDockerfileFor(t, df, ocispecs.Platform{OS: "linux", Architecture: "amd64"})
}

func loadedDockerfileFor(t *testing.T, df string, p ocispecs.Platform) (*pb.Definition, digest.Digest) {
	t.Helper()
	ctx := context.Background()
	local := llb.Local("dockerfile", llb.WithCustomName("[internal] load build definition from Dockerfile"))
	ldef, err := local.Marshal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head, err := ldef.Head()
	if err != nil {
		t.Fatal(err)
	}
	sm := llb.NewSourceMap(&local, "Dockerfile", "Dockerfile", []byte(df))
	sm.Definition = ldef
	res, err := dockerfile2llb.Dockerfile2LLB(ctx, []byte(df), dockerfile2llb.ConvertOpt{
		Config:         dockerui.Config{BuildPlatforms: []ocispecs.Platform{p}},
		SourceMap:      sm,
		MetaResolver:   emptyResolver{},
		TargetPlatform: &p,
	})
	if err != nil {
		t.Fatal(err)
	}
	def, err := res.State.Marshal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return def.ToPB(), head
}

// buildWarned solves def as many times as a build would (once per platform,
// again for SBOM) and then ends the build.
func buildWarned(t *testing.T, def *pb.Definition, solves int) *warnClient {
	t.Helper()
	wc, _ := buildWarnedWith(t, mustOptions(t, nil), solves, def)
	return wc
}

// buildWarnedWith solves each of defs solves times with opt, as one
// build, and ends the build.
func buildWarnedWith(t *testing.T, opt llbtransform.Options, solves int, defs ...*pb.Definition) (*warnClient, *rewritingClient) {
	t.Helper()
	wc := &warnClient{}
	rc := &rewritingClient{Client: wc, opt: opt}
	for _, def := range defs {
		for range solves {
			if _, err := rc.Solve(context.Background(), client.SolveRequest{Definition: def}); err != nil {
				t.Fatal(err)
			}
		}
	}
	rc.report.summarize(context.Background(), wc)
	return wc, rc
}

const sayWhy = `FROM node:18-slim
RUN apt-get update && apt-get install -y git
USER node
RUN npm ci
RUN --mount=type=cache,target=/home/node/.npm npm ci
RUN make
USER root
# autocache: off
RUN pip install flask
RUN pip install requests
`

func TestEachStepLeftAloneSaysWhyOnce(t *testing.T) {
	def, vertex := loadedDockerfile(t, sayWhy)
	wc := buildWarned(t, def, 2)
	var msgs []string
	for _, w := range wc.warnings {
		msgs = append(msgs, w.msg)
		if w.vertex != vertex || w.opts.Level != 1 || w.opts.SourceInfo == nil || w.opts.SourceInfo.Filename != "Dockerfile" {
			t.Errorf("%q: on vertex %s with %+v; want the Dockerfile's vertex %s and source", w.msg, w.vertex, w.opts, vertex)
		}
	}
	want := []string{
		// npm as a named user the frontend can't resolve (no image here);
		// the same npm with a cache of its own and `make` say nothing.
		"autocache: step not cached: npm: skipped: user node not resolved yet (line 4)",
		// pip after a step under `# autocache: off`: that step's downloads are in the layer.
		"autocache: step not cached: pip: skipped /root/.cache/pip: line 9 is left alone (`# autocache: off` on line 8) and writes /root/.cache/pip without a cache (and 1 more) (line 10)",
		"autocache: 1 step cached: apt; 2 steps not cached (the warnings say why); 1 step under `# autocache: off`",
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	if r := wc.warnings[0].opts.Range; len(r) != 1 || r[0].Start.Line != 4 {
		t.Errorf("range %v, want line 4", r)
	}
	if d := wc.warnings[1].opts.Detail; len(d) != 2 {
		t.Errorf("detail %q: want every note", d)
	}
}

func TestSummaryCountsManagers(t *testing.T) {
	def, _ := loadedDockerfile(t, `FROM golang:1.26
RUN apt-get update && apt-get install -y git
RUN apt-get install -y make
RUN go mod download
RUN make
`)
	wc := buildWarned(t, def, 1)
	if len(wc.warnings) != 1 || wc.warnings[0].msg != "autocache: 4 steps cached: apt ×2, go, follows go" {
		t.Fatalf("warnings %+v", wc.warnings)
	}
}

func TestNothingToSayIsSaidByNoWarning(t *testing.T) {
	def, _ := loadedDockerfile(t, "FROM debian\nRUN make\nRUN --mount=type=cache,target=/var/cache/apt apt-get install -y curl\n")
	if wc := buildWarned(t, def, 1); len(wc.warnings) != 0 {
		t.Fatalf("warnings %+v", wc.warnings)
	}
}

// TestProbeIsNotReported: the probe's mount is the conformance run's
// instrument, not a cache for the user: a build it alone changed says
// nothing (upstream's lint tests count every warning), and a cached step
// is reported for its managers only.
func TestProbeIsNotReported(t *testing.T) {
	def, _ := loadedDockerfile(t, "FROM debian\nRUN make\nRUN pip install flask\n")
	opt := mustOptions(t, nil)
	opt.Probe = true
	wc, rc := buildWarnedWith(t, opt, 1, def)
	if len(wc.warnings) != 1 || wc.warnings[0].msg != "autocache: 1 step cached: pip" {
		t.Fatalf("warnings %+v", wc.warnings)
	}
	if got := rc.rewritten.Load(); got != 2 {
		t.Fatalf("%d steps counted as rewritten, want 2 (both probed)", got)
	}
	def, _ = loadedDockerfile(t, "FROM debian\nRUN make\n")
	if wc, _ := buildWarnedWith(t, opt, 1, def); len(wc.warnings) != 0 {
		t.Fatalf("the probe alone is reported: %+v", wc.warnings)
	}
}

func TestWarningsAreBounded(t *testing.T) {
	var df strings.Builder
	df.WriteString("FROM node:18-slim\nUSER node\n")
	for i := range maxWarnings + 2 {
		fmt.Fprintf(&df, "RUN npm install pkg%d\n", i)
	}
	def, _ := loadedDockerfile(t, df.String())
	wc := buildWarned(t, def, 1)
	if len(wc.warnings) != maxWarnings+1 {
		t.Fatalf("%d warnings", len(wc.warnings))
	}
	if last := wc.warnings[maxWarnings].msg; last != "autocache: 0 steps cached; 12 steps not cached (the warnings say why, 2 not listed: autocache plan shows all)" {
		t.Fatalf("summary %q", last)
	}
}

// A multi-platform build solves one definition per platform: each step is
// counted and each reason said once.
func TestMultiPlatformBuildSaysItOnce(t *testing.T) {
	amd64, _ := loadedDockerfileFor(t, sayWhy, ocispecs.Platform{OS: "linux", Architecture: "amd64"})
	arm64, _ := loadedDockerfileFor(t, sayWhy, ocispecs.Platform{OS: "linux", Architecture: "arm64"})
	wc, rc := buildWarnedWith(t, mustOptions(t, nil), 1, amd64, arm64)
	if len(wc.warnings) != 3 || wc.warnings[2].msg != "autocache: 1 step cached: apt; 2 steps not cached (the warnings say why); 1 step under `# autocache: off`" {
		t.Fatalf("warnings %+v", wc.warnings)
	}
	if n := rc.rewritten.Load(); n != 2 {
		t.Fatalf("frontend.autocache.steps counts %d, want one per platform (2)", n)
	}
}
