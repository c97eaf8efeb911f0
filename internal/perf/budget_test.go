package perf

import (
	"context"
	"testing"

	"github.com/autocache/autocache/llbtransform"
)

// transformAllocBudget is the most allocations one transform of
// Synthetic(100) may take, image facts answered at once: about 25 % over
// what it took when it was set (docs/performance.md). A change that
// allocates more fails here, in `make test`, before it shows in `make bench`.
const transformAllocBudget = 21000

func TestTransformAllocBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation budget: not in -short")
	}
	ctx := context.Background()
	def, err := Convert(ctx, Synthetic(100).Dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	opt := Options()
	n := testing.AllocsPerRun(5, func() {
		res, err := llbtransform.Transform(ctx, def, opt)
		if err != nil || !res.Changed {
			t.Fatalf("transform: %v (changed %v)", err, res != nil && res.Changed)
		}
	})
	t.Logf("%.0f allocations per transform of 100 steps (budget %d)", n, transformAllocBudget)
	if n > transformAllocBudget {
		t.Errorf("a transform of 100 steps takes %.0f allocations, over its budget of %d: find what allocates (go test -bench Frontend/synthetic/100/transform -memprofile), or raise the budget with a reason", n, transformAllocBudget)
	}
}
