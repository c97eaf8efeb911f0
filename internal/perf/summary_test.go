package perf

import (
	"strings"
	"testing"
)

// TestResultStatus: a goal is judged on the median of the rounds, and a
// miss counts only beyond the margin; the table says which.
func TestResultStatus(t *testing.T) {
	for _, c := range []struct {
		ratios []float64
		want   string
	}{
		{[]float64{0.9, 1.3, 1.0}, "holds"},
		{[]float64{1.08, 0.9, 1.2}, "holds within margin"},
		{[]float64{1.11, 1.2, 0.5}, "MISSED"},
	} {
		r := Result{What: "x", Against: "y", Ratios: c.ratios, Goal: 1.05, Margin: 0.05}
		if got := r.Status(); got != c.want {
			t.Errorf("%v: %s, want %s", c.ratios, got, c.want)
		}
		if r.Missed() != (c.want == "MISSED") {
			t.Errorf("%v: Missed() = %v", c.ratios, r.Missed())
		}
		var b strings.Builder
		PrintResults(&b, []Result{r})
		if !strings.Contains(b.String(), c.want) || !strings.Contains(b.String(), "≤ 1.05 ± 0.05") {
			t.Errorf("table:\n%s", b.String())
		}
	}
}
