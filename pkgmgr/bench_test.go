package pkgmgr

import (
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// allCorpusSteps are the RUNs of every corpus Dockerfile, as TestCorpus
// analyses them.
func allCorpusSteps(tb testing.TB) []Step {
	files, err := filepath.Glob("testdata/corpus/*")
	if err != nil {
		tb.Fatal(err)
	}
	sort.Strings(files)
	var out []Step
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		for _, cs := range corpusSteps(tb, filepath.Base(f), data) {
			out = append(out, cs.step)
		}
	}
	if len(out) < 400 {
		tb.Fatalf("only %d corpus steps", len(out))
	}
	return out
}

// BenchmarkAnalyzeCorpus analyses every RUN of the corpus once per
// iteration, as the transform does (Begin, Questions, Plan); ns/step and
// allocs/step are per RUN.
func BenchmarkAnalyzeCorpus(b *testing.B) {
	steps := allCorpusSteps(b)
	perStep(b, steps)
}

// perStep runs analyzeAll over steps as a benchmark and reports its time
// and allocations per step.
func perStep(b *testing.B, steps []Step) {
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		analyzeAll(b, steps)
	}
	runtime.ReadMemStats(&after)
	n := float64(b.N * len(steps))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/step")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/step")
	b.ReportMetric(float64(len(steps)), "steps")
}

// BenchmarkAnalyzeByManager is BenchmarkAnalyzeCorpus per detected manager
// (the steps whose plan names it) and for the steps with none.
func BenchmarkAnalyzeByManager(b *testing.B) {
	groups := map[string][]Step{}
	for _, s := range allCorpusSteps(b) {
		p, err := Analyze(s, Options{})
		if err != nil {
			b.Fatal(err)
		}
		key := "none"
		if len(p.Managers) > 0 {
			key = strings.Join(p.Managers, "+")
		}
		groups[key] = append(groups[key], s)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		if len(groups[k]) >= 5 { // enough steps to say something
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		steps := groups[k]
		b.Run(k, func(b *testing.B) { perStep(b, steps) })
	}
}

func analyzeAll(tb testing.TB, steps []Step) {
	for _, s := range steps {
		a := Begin(s, Options{})
		if a.Questions().Release {
			a.SetRelease(OSRelease{ID: "rhel", VersionID: "9.6"})
		}
		if _, err := a.Plan(nil); err != nil {
			tb.Fatal(err)
		}
	}
}

// allocBudget is the most allocations the analysis of one corpus RUN may
// take on average: about 25 % over what it took when it was set (see
// docs/performance.md). A change that allocates more per step fails here,
// in `make test`, before it shows in `make bench`.
const allocBudget = 210

func TestAnalysisAllocBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation budget: not in -short")
	}
	steps := allCorpusSteps(t)
	per := testing.AllocsPerRun(3, func() { analyzeAll(t, steps) }) / float64(len(steps))
	t.Logf("%.1f allocations per step (budget %d), %d steps", per, allocBudget, len(steps))
	if per > allocBudget {
		t.Errorf("analysis takes %.1f allocations per step, over its budget of %d: find what allocates (go test -bench AnalyzeCorpus -memprofile), or raise the budget with a reason", per, allocBudget)
	}
}
