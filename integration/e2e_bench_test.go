//go:build e2e

package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/autocache/autocache/frontend"
	"github.com/autocache/autocache/integration/examples"
	"github.com/autocache/autocache/internal/perf"
)

// TestBenchmark is `make bench` (issue 15, docs/performance.md): what
// autocache costs, as ratios measured side by side in this one run, each
// against what a user would otherwise run, and one table with every goal.
//   - cpu: the transform against upstream's conversion (no engine);
//   - noop: a rebuild in which nothing changed, every step a cache hit, so
//     the frontend's own work is most of what the user waits for: autocache
//     against upstream's frontend image built the same way;
//   - reads: the gateway round trips each build makes for image facts
//     (frontend.autocache.reads), against their goals;
//   - warm: the rebuild after one new dependency, against the same
//     Dockerfile with the mounts written out by hand (same downloads);
//   - cold: from build start to the frontend's first vertex, with the
//     frontend image not yet pulled; and the two images' sizes.
//
// Both frontends are reached the same way (gateway.v0, source=). It runs
// only with AUTOCACHE_BENCH=1; AUTOCACHE_BENCH_ONLY=noop,warm picks
// sections, AUTOCACHE_BENCH_ROUNDS the rounds (default 9). A goal missed
// beyond its noise margin fails it.
func TestBenchmark(t *testing.T) {
	if os.Getenv("AUTOCACHE_BENCH") == "" {
		t.Skip("set AUTOCACHE_BENCH=1 (make bench)")
	}
	rounds := 9
	if n, err := fmt.Sscan(os.Getenv("AUTOCACHE_BENCH_ROUNDS"), &rounds); n != 1 || err != nil || rounds < 3 {
		rounds = 9
	}
	only := os.Getenv("AUTOCACHE_BENCH_ONLY")
	run := func(section string) bool {
		return only == "" || slices.Contains(strings.Split(only, ","), section)
	}
	var results []perf.Result
	if run("cpu") {
		rep, err := perf.RunCPU(context.Background(), rounds, 20*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		rep.Print(os.Stdout, false)
		fmt.Println()
		results = append(results, rep.Results()...)
	}
	b := &bench{e: newEngine(t), rounds: rounds}
	if run("noop") || run("warm") || run("cold") {
		b.stock = stockFrontend(t)
	}
	if run("noop") {
		results = append(results, b.noopRebuild(t)...)
	}
	if run("reads") {
		b.gatewayReads(t)
	}
	if run("warm") {
		results = append(results, b.warmRebuild(t)...)
	}
	if run("cold") {
		results = append(results, b.coldStart(t)...)
	}
	fmt.Printf("\nmake bench: every figure a ratio measured side by side in this run (median over the rounds and its spread)\nmachine: %s\n\n", perf.Machine())
	perf.PrintResults(os.Stdout, results)
	for _, r := range results {
		if r.Missed() {
			t.Errorf("goal missed: %s: ratio %.3f > %.2f (± %.2f) against %s", r.What, r.Median(), r.Goal, r.Margin, r.Against)
		}
	}
}

// bench is one run of TestBenchmark on the engine.
type bench struct {
	e      *engine
	stock  string // upstream's frontend image, built like autocache's
	rounds int
}

// Goals for the engine's figures (issue 15) and their noise margin: a
// build of a fifth of a second swings by ±30 % in single rounds on a
// 2-core machine, medians of 9 rounds by about 5 %.
const (
	maxNoopRatio = 1.05
	maxWarmRatio = 1.05
	maxColdRatio = 1.10
	buildMargin  = 0.05
)

// benchBuild is one buildctl build through the gateway with source as the
// frontend.
type benchBuild struct {
	dir, source string
	args        []string // more buildctl arguments
}

// build runs bb and returns the time it took and buildctl's output.
func (b *bench) build(t *testing.T, bb benchBuild) (time.Duration, string) {
	t.Helper()
	args := append([]string{"build", "--frontend", "gateway.v0", "--opt", "source=" + bb.source,
		"--local", "context=" + bb.dir, "--local", "dockerfile=" + bb.dir, "--opt", "build-arg:E2E_RUN=" + b.e.runID}, bb.args...)
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--progress") }) {
		args = append(args, "--progress=plain")
	}
	cmd := exec.Command("buildctl", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s with %s: %v\n%s", bb.dir, bb.source, err, tail(out.String(), 40))
	}
	return time.Since(start), out.String()
}

// example copies examples/kind to a new directory.
func example(t *testing.T, kind string) string {
	t.Helper()
	return copyDir(t, filepath.Join("..", "examples", kind))
}

// project is a directory to build, named for the table.
type project struct{ name, dir string }

// exampleProjects are copies of the four examples, then a project of the
// one Dockerfile extra.
func exampleProjects(t *testing.T, name, dockerfile string) []project {
	t.Helper()
	var out []project
	for _, kind := range examples.Kinds {
		out = append(out, project{"examples/" + kind, example(t, kind)})
	}
	dir := t.TempDir()
	writeFile(t, dir, "Dockerfile", dockerfile)
	return append(out, project{name, dir})
}

// pair runs one round of a side-by-side measurement, the baseline first in
// even rounds, so that drift within a round favours neither side.
func pair(round int, baseline, autocache func() time.Duration) (base, ac time.Duration) {
	if round%2 == 0 {
		base = baseline()
		ac = autocache()
	} else {
		ac = autocache()
		base = baseline()
	}
	return base, ac
}

// noopRebuild: every example and a large generated file rebuilt with
// nothing changed, with each frontend, interleaved.
func (b *bench) noopRebuild(t *testing.T) []perf.Result {
	projects := exampleProjects(t, "6 stages, 54 RUNs", largeDockerfile(6, 8))

	var out []perf.Result
	for _, p := range projects {
		build := func(source string, args ...string) func() time.Duration {
			return func() time.Duration {
				d, _ := b.build(t, benchBuild{dir: p.dir, source: source, args: args})
				return d
			}
		}
		// autocache with AUTOCACHE=off runs upstream's builder with nothing
		// of its own: set beside the other two, it tells the cost of the
		// image and its start from that of the transform and its reads.
		off := build(b.e.frontend, "--opt", "build-arg:AUTOCACHE=off")
		// Warm: each frontend's first build runs the steps (autocache's
		// steps are other steps: they have cache mounts), the second
		// settles what a first rebuild still does (e.g. the image config).
		for _, f := range []func() time.Duration{build(b.stock), build(b.e.frontend), off} {
			f()
			f()
		}
		// Three times the rounds: a no-op build is a fifth of a second and
		// what autocache adds a few per cent of it, so a median needs more
		// rounds than the other sections' to settle (they cost little).
		var st, ac, offs, ratio []float64
		for r := range 3 * b.rounds {
			s, a := pair(r, build(b.stock), build(b.e.frontend))
			st, ac, ratio = append(st, s.Seconds()), append(ac, a.Seconds()), append(ratio, a.Seconds()/s.Seconds())
			offs = append(offs, off().Seconds())
		}
		out = append(out, perf.Result{What: "no-op rebuild: " + p.name, Against: "stock frontend image", Ratios: ratio,
			Goal: maxNoopRatio, Margin: buildMargin,
			Note: fmt.Sprintf("%.3fs vs %.3fs (autocache off: %.3fs)", perf.Median(ac), perf.Median(st), perf.Median(offs))})
	}
	return out
}

// gatewayReads builds each example, and a Dockerfile with no package
// manager, once more with autocache and prints what each asked the gateway
// (frontend.autocache.reads). Goals (issue 15): each filesystem solved at
// most once and each question asked at most once per (filesystem, kind):
// for a one-image example of root steps, one solve, no accounts, at most
// one os-release and one listing per cache directory; none at all without
// a package manager.
func (b *bench) gatewayReads(t *testing.T) {
	projects := exampleProjects(t, "no package manager",
		"FROM debian:bookworm-slim\nARG E2E_RUN\nRUN echo \"$E2E_RUN\" > /run-id && ls /usr/share > /dev/null\n")
	none := projects[len(projects)-1].dir

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "Dockerfile\tcaches\tsolves\taccounts\tcontents\tos-release\treadFile\treadDir\tno-op build\t\n")
	for _, p := range projects {
		meta := filepath.Join(t.TempDir(), "meta.json")
		b.build(t, benchBuild{dir: p.dir, source: b.e.frontend}) // the steps run (or are cached) first
		d, _ := b.build(t, benchBuild{dir: p.dir, source: b.e.frontend, args: []string{"--metadata-file", meta}})
		reads, caches := readsOf(t, meta)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.3fs\t\n", p.name, caches, reads.Solves, reads.Accounts, reads.Contents,
			reads.OSRelease, reads.ReadFile, reads.ReadDir, d.Seconds())
		switch {
		case p.dir == none && reads != (frontend.Reads{}):
			t.Errorf("%s: gateway reads for a Dockerfile with no package manager: %+v", p.name, reads)
		case p.dir != none && (reads.Solves != 1 || reads.OSRelease > 1 || reads.Contents > int64(caches) || reads.Accounts > 0):
			t.Errorf("%s: more gateway reads than one per (filesystem, kind): %+v for %d caches", p.name, reads, caches)
		}
	}
	fmt.Printf("Gateway round trips for image facts per build (frontend.autocache.reads), no-op rebuild with autocache\n\n")
	tw.Flush()
	fmt.Println()
}

// readsOf reads frontend.autocache.reads and the number of caches from a
// build's metadata file.
func readsOf(t *testing.T, metaFile string) (frontend.Reads, int) {
	t.Helper()
	raw := readFile(t, metaFile)
	var md map[string]any // buildctl writes frontend.* values as strings
	if err := json.Unmarshal([]byte(raw), &md); err != nil {
		t.Fatal(err)
	}
	var reads frontend.Reads
	if v, _ := md[frontend.MetaReads].(string); json.Unmarshal([]byte(v), &reads) != nil {
		t.Fatalf("%s: not JSON in %s", frontend.MetaReads, raw)
	}
	return reads, len(reportedCaches(t, []string{"--metadata-file", metaFile}))
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// handWritten turns each example's Dockerfile into the same one with
// autocache's mounts written out by hand: what `autocache rewrite` writes
// for it (with the golang image's GOPATH, /go, which rewrite reads from
// the image's config): {what is replaced, by what}.
var handWritten = map[string][2]string{
	"apt": {"FROM debian:bookworm-slim\nRUN apt-get update \\\n", `# Files autocache generates for the steps that mount them (autocache rewrite).
FROM scratch AS autocache-files
COPY <<"EOF" /docker-clean
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::List-Cleanup "false";
EOF
COPY <<"EOF" /zz-autocache-keep-debs
Binary::apt::APT::Keep-Downloaded-Packages "true";
APT::Keep-Downloaded-Packages "true";
EOF

FROM debian:bookworm-slim
RUN --mount=type=cache,target=/var/cache/apt,id=linux/amd64//var/cache/apt,sharing=locked --mount=type=cache,target=/var/lib/apt/lists,id=linux/amd64//var/lib/apt/lists,sharing=locked --mount=type=bind,from=autocache-files,source=/docker-clean,target=/etc/apt/apt.conf.d/docker-clean --mount=type=bind,from=autocache-files,source=/zz-autocache-keep-debs,target=/etc/apt/apt.conf.d/zz-autocache-keep-debs apt-get update \
`},
	"pip": {"RUN pip install --no-cache-dir -r requirements.txt\n",
		"RUN --mount=type=cache,target=/root/.cache/pip --mount=type=cache,target=/root/.cache/pip/wheels,id=from:docker.io/library/python:3.11-slim//root/.cache/pip/wheels pip install -r requirements.txt\n"},
	"npm": {"RUN npm install\n", "RUN --mount=type=cache,target=/root/.npm npm install\n"},
	"go": {"RUN go mod download\nCOPY *.go ./\nRUN CGO_ENABLED=0 go build -o /hello\n",
		"RUN --mount=type=cache,target=/go/pkg/mod go mod download\nCOPY *.go ./\n" +
			"RUN --mount=type=cache,target=/root/.cache/go-build --mount=type=cache,target=/go/pkg/mod CGO_ENABLED=0 go build -o /hello\n"},
}

// warmRebuild: each example built once with the hand-written Dockerfile
// (by the stock frontend image) and once as it is (by autocache), then
// rounds of the rebuild after one new dependency, a new one for every
// build, so that each downloads exactly one package whatever the other
// left in the caches they share. Goal: ≤ 1.05× the time, and the same
// downloads.
func (b *bench) warmRebuild(t *testing.T) []perf.Result {
	if out, err := exec.Command("buildctl", "prune", "--all").CombinedOutput(); err != nil {
		t.Fatalf("buildctl prune: %v\n%s", err, out) // no layers or caches of an earlier run
	}
	var out []perf.Result
	for _, kind := range examples.Kinds {
		variant := func(hand bool, dep int) string {
			dir := example(t, kind)
			if err := examples.Edit(dir, "Dockerfile", func(s string) string {
				if hand {
					s = strings.Replace(s, handWritten[kind][0], handWritten[kind][1], 1)
				}
				// A run of its own: no layer of an earlier bench run is reused.
				return strings.Replace(s, "\nRUN ", "\nARG E2E_RUN\nRUN ", 1)
			}); err != nil {
				t.Fatal(err)
			}
			if hand && strings.Count(readFile(t, filepath.Join(dir, "Dockerfile")), "--mount=type=cache") < 1 {
				t.Fatalf("%s: the hand-written Dockerfile has no cache mount", kind)
			}
			if dep > 0 {
				if err := examples.AddDependency(dir, kind, dep); err != nil {
					t.Fatal(err)
				}
			}
			return dir
		}
		var gotHand, gotAuto []int
		build := func(hand bool, dep int, counts *[]int) func() time.Duration {
			return func() time.Duration {
				src := b.e.frontend
				if hand {
					src = b.stock
				}
				before := b.e.counts(t)[kind]
				d, _ := b.build(t, benchBuild{dir: variant(hand, dep), source: src})
				if counts != nil {
					*counts = append(*counts, b.e.counts(t)[kind]-before)
				}
				return d
			}
		}
		build(true, 0, nil)()
		build(false, 0, nil)()
		var hs, as, ratio []float64
		for r := range b.rounds {
			h, a := pair(r, build(true, 11+2*r, &gotHand), build(false, 12+2*r, &gotAuto))
			hs, as, ratio = append(hs, h.Seconds()), append(as, a.Seconds()), append(ratio, a.Seconds()/h.Seconds())
		}
		if !slices.Equal(gotHand, gotAuto) || slices.ContainsFunc(gotAuto, func(n int) bool { return n != 1 }) {
			t.Errorf("rebuild +1 dependency of examples/%s: downloads per build, autocache %v, hand-written %v: want 1 each", kind, gotAuto, gotHand)
		}
		out = append(out, perf.Result{What: "rebuild +1 dependency: examples/" + kind, Against: "hand-written mounts", Ratios: ratio,
			Goal: maxWarmRatio, Margin: buildMargin, Note: fmt.Sprintf("%.2fs vs %.2fs; downloads %d vs %d", perf.Median(as), perf.Median(hs), sum(gotAuto), sum(gotHand))})
	}
	return out
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// firstVertex is the first vertex a Dockerfile frontend shows, once its
// image has been pulled and started: upstream's builder reading the
// Dockerfile (autocache runs the same builder).
const firstVertex = "[internal] load build definition from Dockerfile"

// coldStart: rounds of an emptied builder (the frontend image not pulled)
// and a build of the apt example with each frontend, timed from the start
// to the frontend's first vertex; and the two images' sizes.
func (b *bench) coldStart(t *testing.T) []perf.Result {
	dir := example(t, "apt")
	start := func(source string) func() time.Duration {
		return func() time.Duration {
			if out, err := exec.Command("buildctl", "prune", "--all").CombinedOutput(); err != nil {
				t.Fatalf("buildctl prune: %v\n%s", err, out)
			}
			t0 := time.Now()
			_, out := b.build(t, benchBuild{dir: dir, source: source, args: []string{"--progress=rawjson"}})
			first, ok := vertexStarted(out, firstVertex)
			if !ok {
				t.Fatalf("no vertex %q in the build's progress:\n%s", firstVertex, tail(out, 20))
			}
			return first.Sub(t0)
		}
	}
	var st, ac, ratio []float64
	for r := range b.rounds {
		s, a := pair(r, start(b.stock), start(b.e.frontend))
		st, ac, ratio = append(st, s.Seconds()), append(ac, a.Seconds()), append(ratio, a.Seconds()/s.Seconds())
	}
	stockSize, acSize := imageSize(t, b.stock), imageSize(t, b.e.frontend)
	return []perf.Result{
		{What: "cold start: to the first vertex, image not pulled", Against: "stock frontend image", Ratios: ratio,
			Goal: maxColdRatio, Margin: buildMargin, Note: fmt.Sprintf("%.3fs vs %.3fs", perf.Median(ac), perf.Median(st))},
		{What: fmt.Sprintf("image size (linux/%s, compressed)", runtime.GOARCH), Against: "stock frontend image",
			Ratios: []float64{float64(acSize) / float64(stockSize)}, Goal: maxColdRatio,
			Note: fmt.Sprintf("%.1f MiB vs %.1f MiB", float64(acSize)/(1<<20), float64(stockSize)/(1<<20))},
	}
}

// vertexStarted finds when the vertex named name started, in buildctl's
// --progress=rawjson output (one client.SolveStatus per line).
func vertexStarted(rawjson, name string) (time.Time, bool) {
	var first time.Time
	sc := bufio.NewScanner(strings.NewReader(rawjson))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var st struct {
			Vertexes []struct {
				Name    string
				Started *time.Time
			}
		}
		if json.Unmarshal(sc.Bytes(), &st) != nil {
			continue
		}
		for _, v := range st.Vertexes {
			if v.Name == name && v.Started != nil && (first.IsZero() || v.Started.Before(first)) {
				first = *v.Started
			}
		}
	}
	return first, !first.IsZero()
}

// stockFrontend builds upstream's dockerfile-frontend with the top-level
// Dockerfile (as hack/image.sh builds autocache's, for this machine's
// platform) and pushes it to the engine's registry; it returns its ref.
func stockFrontend(t *testing.T) string {
	t.Helper()
	reg := os.Getenv("AUTOCACHE_REGISTRY")
	if reg == "" {
		t.Fatal("AUTOCACHE_REGISTRY is not set: run this through make bench")
	}
	df, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var goVersion string
	for _, l := range strings.Split(string(df), "\n") {
		if v, ok := strings.CutPrefix(l, "ARG GO_VERSION="); ok {
			goVersion = v
			break
		}
	}
	cmd := exec.Command(filepath.Join("..", "hack", "image.sh"), "--", "--opt",
		"build-arg:MAIN=github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend")
	cmd.Env = append(os.Environ(), "REGISTRY="+reg+"/stock", "TAGS=bench", "PLATFORMS=linux/"+runtime.GOARCH,
		"GOLANG_CONTEXT=docker-image://"+reg+"/online/golang:"+goVersion, "PROGRESS=plain")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the stock frontend image: %v\n%s", err, tail(string(out), 40))
	}
	t.Logf("stock frontend image built in %s", time.Since(start).Round(time.Second))
	return reg + "/stock/autocache:bench"
}

// imageSize is the compressed size of ref's layers for this machine's
// platform, read from the registry (an index is followed to its manifest).
func imageSize(t *testing.T, ref string) int64 {
	t.Helper()
	host, rest, _ := strings.Cut(ref, "/")
	repo, tag, _ := strings.Cut(rest, ":")
	get := func(what string, v any) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+host+"/v2/"+repo+"/manifests/"+what, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "+
			"application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", req.URL, resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	type descriptor struct {
		Digest   string
		Platform struct{ OS, Architecture string }
	}
	var m struct {
		Manifests []descriptor
		Layers    []struct{ Size int64 }
	}
	get(tag, &m)
	if len(m.Manifests) > 0 {
		i := slices.IndexFunc(m.Manifests, func(d descriptor) bool {
			return d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH
		})
		if i < 0 {
			t.Fatalf("%s has no linux/%s manifest", ref, runtime.GOARCH)
		}
		digest := m.Manifests[i].Digest
		m.Manifests, m.Layers = nil, nil
		get(digest, &m)
	}
	var n int64
	for _, l := range m.Layers {
		n += l.Size
	}
	if n == 0 {
		t.Fatalf("%s: no layers", ref)
	}
	return n
}

// largeDockerfile has stages of steps RUNs each (one of them a pip
// install from the hermetic registry) and a last stage that copies from
// every stage.
func largeDockerfile(stages, steps int) string {
	var b strings.Builder
	b.WriteString("# a large Dockerfile for the no-op rebuild benchmark\n")
	for s := 1; s <= stages; s++ {
		fmt.Fprintf(&b, "FROM python:3.11-slim AS s%d\nARG E2E_RUN\n", s)
		fmt.Fprintf(&b, "RUN pip install --no-cache-dir acpkg-%03d==1.0.0\n", s)
		for i := 1; i < steps; i++ {
			fmt.Fprintf(&b, "RUN echo %d-%d > /f%d && ls /usr/local/lib > /dev/null\n", s, i, i)
		}
	}
	b.WriteString("FROM python:3.11-slim\n")
	for s := 1; s <= stages; s++ {
		fmt.Fprintf(&b, "COPY --from=s%d /f1 /from-s%d\n", s, s)
	}
	b.WriteString("RUN cat /from-s*\n")
	return b.String()
}
