package pkgmgr

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"testing"
)

// TestManagersAreComplete: every registered manager has its table of cases,
// its row in docs/managers.md and fuzz seeds that detect it, and every row
// there is a registered manager.
func TestManagersAreComplete(t *testing.T) {
	doc, err := os.ReadFile("../docs/managers.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllSubmatch(doc, -1) {
		rows[string(m[1])] = true
	}
	seeded := map[string]bool{}
	for _, s := range analyzeSeeds(t) {
		p, err := Analyze(fuzzStep(s.script, s.mode), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range p.Managers {
			seeded[m] = true
		}
	}
	for _, n := range names() {
		m := registry[n]
		if len(m.Programs) == 0 {
			t.Errorf("%s answers to no program", n)
		}
		if len(casesOf[n]) == 0 {
			t.Errorf("%s has no table cases (registerCases in its test file)", n)
		}
		if !rows[n] {
			t.Errorf("%s has no row in docs/managers.md", n)
		}
		if !seeded[n] {
			t.Errorf("no FuzzAnalyze seed detects %s", n)
		}
	}
	for n := range rows {
		if registry[n] == nil {
			t.Errorf("docs/managers.md has a row for %s, which is not registered", n)
		}
	}
	for n := range casesOf {
		if registry[n] == nil {
			t.Errorf("cases registered for %s, which is not a manager", n)
		}
	}
	// The managers are the rows of docs/managers.md, sorted.
	if got := Names(); !slices.Equal(got, slices.Sorted(maps.Keys(rows))) {
		t.Errorf("Names() = %q", got)
	}
}
