//go:build e2e

package integration

import (
	"fmt"
	"testing"
)

// TestScopesDoNotShareCaches: two AUTOCACHE_SCOPE values on one builder get
// separate caches (the second scope downloads everything again), and the
// same scope shares its cache (a rebuild downloads only the new package).
// apt's ids also carry the platform, pip's don't (docs/cache-ids.md).
func TestScopesDoNotShareCaches(t *testing.T) {
	e := newEngine(t)
	for _, fx := range fixtures[:2] { // apt, pip
		t.Run(fx.name, func(t *testing.T) {
			dir := t.TempDir()
			build := func(scope string, n int) int {
				t.Helper()
				writeDockerfile(t, e, dir, viaSyntax, fx.files(t, e, dir, n))
				args := map[string]string{
					// A new E2E_RUN per build: every step runs, none comes from the layer cache.
					"E2E_RUN":                 fmt.Sprintf("%s-%s-%d", e.runID, scope, n),
					"BUILDKIT_CACHE_MOUNT_NS": "e2e-scope-" + e.runID,
					"AUTOCACHE_SCOPE":         scope,
				}
				before := e.counts(t)[fx.kind]
				if _, err := e.build(t, buildSpec{dir: dir, mode: viaSyntax, args: args}); err != nil {
					t.Fatalf("scope %s, %d packages: %v", scope, n, err)
				}
				got := e.counts(t)[fx.kind] - before
				t.Logf("scope %s, %d packages: downloaded %d", scope, n, got)
				return got
			}
			if got := build("tenant-a", 5); got != 5 {
				t.Errorf("tenant-a cold build downloaded %d, want 5", got)
			}
			if got := build("tenant-b", 6); got != 6 {
				t.Errorf("tenant-b downloaded %d, want 6: it shares tenant-a's cache", got)
			}
			if got := build("tenant-a", 6); got != 1 {
				t.Errorf("tenant-a rebuild downloaded %d, want 1: its own cache was not reused", got)
			}
		})
	}
}
