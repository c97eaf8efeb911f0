//go:build e2e

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// TestCacheBenchmark measures what moving caches is worth (docs/ci.md):
// for each seed project, the rebuild after adding a dependency (48th
// package) on a fresh builder without caches ("cold"), on a fresh builder
// after importing the caches its 47-package build left ("import + build"),
// and on the builder that has them ("warm"), with the archives' sizes.
// Fresh builders have the base images already, so only the caches differ.
// It takes several minutes: it runs only with AUTOCACHE_BENCH=1
// (make cache-bench).
func TestCacheBenchmark(t *testing.T) {
	if os.Getenv("AUTOCACHE_BENCH") == "" {
		t.Skip("set AUTOCACHE_BENCH=1 (make cache-bench)")
	}
	e := newEngine(t)
	cli := autocacheCLI(t)
	ns := "bench-" + e.runID
	args := func(run string) map[string]string {
		return map[string]string{"E2E_RUN": run, "BUILDKIT_CACHE_MOUNT_NS": ns}
	}
	type row struct {
		cold, imp, after, warm  time.Duration
		dlCold, dlAfter, dlWarm int
		archive                 int64
	}
	rows := map[string]*row{}
	timed := func(fx fixture, dir string, n int, b buildSpec) (time.Duration, int) {
		t.Helper()
		writeDockerfile(t, e, dir, viaSyntax, fx.files(t, e, dir, n))
		b.dir, b.mode = dir, viaSyntax
		before := e.counts(t)[fx.kind]
		start := time.Now()
		if _, err := e.build(t, b); err != nil {
			t.Fatalf("%s: %v", fx.name, err)
		}
		return time.Since(start), e.counts(t)[fx.kind] - before
	}
	// Two fresh builders, with the base images pulled.
	cold, warmed := startSecondBuilder(t), startSecondBuilder(t)
	for _, b := range []*secondBuilder{cold, warmed} {
		dir := t.TempDir()
		for _, img := range []string{"debian:bookworm-slim", "python:3.11-slim", "node:18-slim", "golang:1.26"} {
			writeDockerfile(t, e, dir, upstream, "FROM "+img+"\nRUN true\n")
			if _, err := e.build(t, buildSpec{dir: dir, mode: upstream, addr: b.addr}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var perCache, order []string
	for _, fx := range fixtures {
		r := &row{}
		rows[fx.name] = r
		order = append(order, fx.name)
		dir := t.TempDir()
		meta := filepath.Join(t.TempDir(), "metadata.json")
		timed(fx, dir, 47, buildSpec{args: args(e.runID), meta: meta})
		out := filepath.Join(t.TempDir(), "caches")
		start := time.Now()
		cli.run(t, "cache", "export", "--to", out, "--metadata-file", meta)
		exportTime := time.Since(start)
		idx := readIndex(t, out)
		for _, c := range idx.Caches {
			r.archive += c.Size
			perCache = append(perCache, fmt.Sprintf("%s\t%s\t%d\t%s\t%s\t", fx.name, strings.TrimPrefix(c.ID, ns), c.Files, mib(c.Bytes), mib(c.Size)))
		}
		r.warm, r.dlWarm = timed(fx, dir, 48, buildSpec{args: args(e.runID)})
		r.cold, r.dlCold = timed(fx, t.TempDir(), 48, buildSpec{addr: cold.addr, args: args(e.runID)})
		start = time.Now()
		cli.run(t, "cache", "import", "--from", out, "--addr", warmed.addr)
		r.imp = time.Since(start)
		r.after, r.dlAfter = timed(fx, t.TempDir(), 48, buildSpec{addr: warmed.addr, args: args(e.runID)})
		t.Logf("%s: export %s", fx.name, exportTime.Round(100*time.Millisecond))
	}
	// A real Go project: this repository's frontend image (its Dockerfile
	// mounts the module and build caches by hand, ids of autocache's
	// shape), built from its modules on proxy.golang.org; the rebuild
	// follows a one-line change to its main package.
	if os.Getenv("AUTOCACHE_BENCH_SKIP_GO_PROJECT") == "" {
		r := &row{dlCold: -1, dlAfter: -1, dlWarm: -1}
		rows["autocache image (Go)"] = r
		src := t.TempDir()
		if out, err := exec.Command("sh", "-c", "git -C .. archive HEAD | tar -x -C "+src).CombinedOutput(); err != nil {
			t.Fatalf("git archive: %v\n%s", err, out)
		}
		df, _ := os.ReadFile(filepath.Join(src, "Dockerfile"))
		goVersion := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)`).FindSubmatch(df)
		golang := os.Getenv("AUTOCACHE_REGISTRY") + "/online/golang:" + string(goVersion[1])
		extra := []string{"--opt", "context:golang:" + string(goVersion[1]) + "=docker-image://" + golang}
		gobuild := func(addr string) time.Duration {
			start := time.Now()
			if _, err := e.build(t, buildSpec{dir: src, mode: upstream, addr: addr, args: map[string]string{"BUILDKIT_CACHE_MOUNT_NS": ns}, extra: extra}); err != nil {
				t.Fatalf("the autocache image: %v", err)
			}
			return time.Since(start)
		}
		for _, b := range []*secondBuilder{cold, warmed} {
			dir := t.TempDir()
			writeDockerfile(t, e, dir, upstream, "FROM "+golang+"\nRUN true\n")
			if _, err := e.build(t, buildSpec{dir: dir, mode: upstream, addr: b.addr}); err != nil {
				t.Fatal(err)
			}
		}
		first := gobuild("")
		out := filepath.Join(t.TempDir(), "caches")
		cli.run(t, "cache", "export", "--to", out, "--image", e.frontend, "--id", ns+"//go/pkg/mod", "--id", ns+"//root/.cache/go-build")
		for _, c := range readIndex(t, out).Caches {
			r.archive += c.Size
			perCache = append(perCache, fmt.Sprintf("%s\t%s\t%d\t%s\t%s\t", "autocache image (Go)", strings.TrimPrefix(c.ID, ns), c.Files, mib(c.Bytes), mib(c.Size)))
		}
		mainGo := filepath.Join(src, "cmd/autocache-frontend/main.go")
		f, err := os.OpenFile(mainGo, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("\n// changed for the benchmark\n")
		f.Close()
		r.warm = gobuild("")
		r.cold = gobuild(cold.addr)
		start := time.Now()
		cli.run(t, "cache", "import", "--from", out, "--addr", warmed.addr)
		r.imp = time.Since(start)
		r.after = gobuild(warmed.addr)
		t.Logf("autocache image: first build on A %s", secs(first))
		order = append(order, "autocache image (Go)")
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "project\tcold build\timport\tbuild\timport + build\twarm build\tdownloads cold / import / warm\tarchives\t")
	for _, name := range order {
		r := rows[name]
		dl := fmt.Sprintf("%d / %d / %d", r.dlCold, r.dlAfter, r.dlWarm)
		if r.dlCold < 0 {
			dl = "(real proxy)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, secs(r.cold), secs(r.imp), secs(r.after), secs(r.imp+r.after), secs(r.warm), dl, mib(r.archive))
	}
	tw.Flush()
	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "project\tcache\tfiles\tbytes\tarchive\t")
	for _, l := range perCache {
		fmt.Fprintln(tw, l)
	}
	tw.Flush()
	t.Logf("results (package server network profile: %q):\n%s", os.Getenv("AUTOCACHE_NETWORK"), b.String())
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
