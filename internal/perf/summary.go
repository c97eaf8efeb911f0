package perf

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// Result is one line of `make bench`'s table: a figure measured side by
// side in one run, as a ratio to what it is compared with, and its goal.
type Result struct {
	What    string    // what was measured, e.g. "no-op rebuild: examples/apt"
	Against string    // the other side of the ratio
	Ratios  []float64 // one per round (or one)
	Goal    float64   // the median ratio should be at most this …
	Margin  float64   // … give or take this (the run's noise)
	Note    string    // absolute figures, counts
}

// Median is the ratio the goal is judged on.
func (r Result) Median() float64 { return Median(r.Ratios) }

// Missed says whether the median is over the goal by more than the margin.
func (r Result) Missed() bool { return r.Median() > r.Goal+r.Margin }

// Status is "holds", "holds within margin" or "MISSED".
func (r Result) Status() string {
	switch {
	case r.Missed():
		return "MISSED"
	case r.Median() > r.Goal:
		return "holds within margin"
	}
	return "holds"
}

// PrintResults writes results as one table: median ratio, its spread over
// the rounds, the goal and its margin, and whether it holds.
func PrintResults(w io.Writer, results []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tagainst\tratio\tspread\trounds\tgoal\tstatus\tabsolute\t")
	for _, r := range results {
		lo, hi := r.Ratios[0], r.Ratios[0]
		for _, x := range r.Ratios {
			lo, hi = min(lo, x), max(hi, x)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.3f–%.3f\t%d\t≤ %.2f ± %.2f\t%s\t%s\t\n",
			r.What, r.Against, r.Median(), lo, hi, len(r.Ratios), r.Goal, r.Margin, r.Status(), r.Note)
	}
	tw.Flush()
}
