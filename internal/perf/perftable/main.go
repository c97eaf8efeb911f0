// Command perftable prints the frontend's CPU cost as ratios to upstream's
// conversion of the same Dockerfile, measured side by side in one run:
// each round times both for every Dockerfile, interleaved, and the table
// gives the median ratio over the rounds and its spread. It exits 1 when
// a median misses its goal by more than the goal's noise margin. No engine
// (`make bench-cpu`); `make bench` puts the same figures in its table
// (docs/performance.md).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/autocache/autocache/internal/perf"
)

func main() {
	rounds := flag.Int("rounds", 7, "rounds; each times every Dockerfile once per side")
	minTime := flag.Duration("min", 20*time.Millisecond, "least time per measurement (repeats a fast one)")
	all := flag.Bool("all", false, "a row per corpus Dockerfile, not only the summary")
	flag.Parse()
	rep, err := perf.RunCPU(context.Background(), *rounds, *minTime)
	if err != nil {
		fmt.Fprintln(os.Stderr, "perftable:", err)
		os.Exit(2)
	}
	rep.Print(os.Stdout, *all)
	results := rep.Results()
	fmt.Println()
	perf.PrintResults(os.Stdout, results)
	for _, r := range results {
		if r.Missed() {
			os.Exit(1)
		}
	}
}
