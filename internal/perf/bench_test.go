package perf

import (
	"context"
	"testing"

	"github.com/autocache/autocache/llbtransform"
)

// cases are what the benchmarks measure: the examples, the corpus and
// synthetic files of 100, 500 and 2,000 steps.
func cases(tb testing.TB) []Case {
	root, err := Root()
	if err != nil {
		tb.Fatal(err)
	}
	ex, err := Examples(root)
	if err != nil {
		tb.Fatal(err)
	}
	co, err := Corpus(root)
	if err != nil {
		tb.Fatal(err)
	}
	all := append(ex, co...)
	for _, n := range []int{100, 500, 2000} {
		all = append(all, Synthetic(n))
	}
	return all
}

// BenchmarkFrontend runs upstream's conversion and autocache's transform
// of the same definition side by side, per Dockerfile.
func BenchmarkFrontend(b *testing.B) {
	ctx := context.Background()
	for _, c := range cases(b) {
		def, err := Convert(ctx, c.Dockerfile)
		if err != nil {
			b.Fatalf("%s: %v", c.Name, err)
		}
		b.Run(c.Name+"/convert", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Convert(ctx, c.Dockerfile); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.Name+"/transform", func(b *testing.B) {
			b.ReportAllocs()
			opt := Options()
			for b.Loop() {
				if _, err := llbtransform.Transform(ctx, def, opt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
