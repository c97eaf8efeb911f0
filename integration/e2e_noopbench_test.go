//go:build e2e

package integration

import (
	"bytes"
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

	"github.com/autocache/autocache/internal/perf"
)

// TestNoopRebuildBenchmark measures what autocache costs where it matters
// most (issue 15, docs/performance.md): a rebuild in which nothing changed,
// every step a cache hit, so the frontend's own work (parsing, converting,
// transforming, the gateway's reads) is most of what the user waits for.
// Both frontends are images built the same way (the top-level Dockerfile,
// MAIN= upstream's dockerfile-frontend for the stock one) and reached the
// same way (gateway.v0, source=), on the same warm builder; the rounds
// interleave them, alternating which goes first. It runs only with
// AUTOCACHE_BENCH=1 (make bench-noop); the goal is a median ratio ≤ 1.05
// (noise margin 0.05).
func TestNoopRebuildBenchmark(t *testing.T) {
	if os.Getenv("AUTOCACHE_BENCH") == "" {
		t.Skip("set AUTOCACHE_BENCH=1 (make bench-noop)")
	}
	e := newEngine(t)
	rounds := 9
	if n, err := fmt.Sscan(os.Getenv("AUTOCACHE_BENCH_ROUNDS"), &rounds); n != 1 || err != nil || rounds < 3 {
		rounds = 9
	}
	stock := stockFrontend(t)
	type project struct{ name, dir string }
	var projects []project
	for _, kind := range []string{"apt", "pip", "npm", "go"} {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "examples", kind))); err != nil {
			t.Fatal(err)
		}
		projects = append(projects, project{"examples/" + kind, dir})
	}
	large := t.TempDir()
	if err := os.WriteFile(filepath.Join(large, "Dockerfile"), []byte(largeDockerfile(6, 8)), 0o644); err != nil {
		t.Fatal(err)
	}
	projects = append(projects, project{"6 stages, 54 RUNs", large})

	build := func(p project, source string) time.Duration {
		t.Helper()
		cmd := exec.Command("buildctl", "build", "--progress=plain", "--frontend", "gateway.v0", "--opt", "source="+source,
			"--local", "context="+p.dir, "--local", "dockerfile="+p.dir, "--opt", "build-arg:E2E_RUN="+e.runID)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s with %s: %v\n%s", p.name, source, err, tail(out.String(), 40))
		}
		return time.Since(start)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "Dockerfile\tstock (median)\tautocache (median)\tratio (median)\tratio range\t\n")
	var missed []string
	for _, p := range projects {
		// Warm: each frontend's first build runs the steps (autocache's
		// steps are other steps: they have cache mounts), the second
		// settles what a first rebuild still does (e.g. the image config).
		for _, src := range []string{stock, e.frontend} {
			build(p, src)
			build(p, src)
		}
		var st, ac, ratio []float64
		for r := range rounds {
			order := []string{stock, e.frontend}
			if r%2 == 1 {
				slices.Reverse(order)
			}
			got := map[string]time.Duration{}
			for _, src := range order {
				got[src] = build(p, src)
			}
			st = append(st, got[stock].Seconds())
			ac = append(ac, got[e.frontend].Seconds())
			ratio = append(ratio, got[e.frontend].Seconds()/got[stock].Seconds())
		}
		m := perf.Median(ratio)
		fmt.Fprintf(tw, "%s\t%.3fs\t%.3fs\t%.3f\t%.3f–%.3f\t\n", p.name, perf.Median(st), perf.Median(ac), m, slices.Min(ratio), slices.Max(ratio))
		if m > 1.05+0.05 {
			missed = append(missed, fmt.Sprintf("%s: ratio %.3f > 1.05", p.name, m))
		}
	}
	fmt.Printf("\nNo-op rebuild through the gateway, autocache vs the stock frontend image built the same way\n"+
		"machine: %s, %d CPUs, %s; %d rounds per Dockerfile, interleaved; ratio = autocache/stock per round\n\n", perf.CPUModel(), runtime.NumCPU(), runtime.Version(), rounds)
	tw.Flush()
	stockSize, acSize := imageSize(t, stock), imageSize(t, e.frontend)
	fmt.Printf("\nimage size (linux/%s, compressed layers): stock %.1f MiB, autocache %.1f MiB, ratio %.3f\n",
		runtime.GOARCH, float64(stockSize)/(1<<20), float64(acSize)/(1<<20), float64(acSize)/float64(stockSize))
	if float64(acSize)/float64(stockSize) > 1.10 {
		missed = append(missed, fmt.Sprintf("image size ratio %.3f > 1.10", float64(acSize)/float64(stockSize)))
	}
	for _, m := range missed {
		t.Errorf("goal missed: %s", m)
	}
}

// stockFrontend builds upstream's dockerfile-frontend with the top-level
// Dockerfile (as hack/image.sh builds autocache's, for this machine's
// platform) and pushes it to the engine's registry; it returns its ref.
func stockFrontend(t *testing.T) string {
	t.Helper()
	reg := os.Getenv("AUTOCACHE_REGISTRY")
	if reg == "" {
		t.Fatal("AUTOCACHE_REGISTRY is not set: run this through make bench-noop")
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
