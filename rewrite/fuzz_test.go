package rewrite

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/autocache/autocache/plan"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// FuzzRewrite: whatever the Dockerfile, the rewrite returns an error or a
// Dockerfile that parses, and never panics.
func FuzzRewrite(f *testing.F) {
	for _, g := range []string{"testdata/*.Dockerfile", "../examples/*/Dockerfile"} {
		files, _ := filepath.Glob(g)
		for _, file := range files {
			if dt, err := os.ReadFile(file); err == nil {
				f.Add(dt)
			}
		}
	}
	f.Add([]byte("FROM debian\nRUN apt-get install -y curl \\\n# c\n  && apt-get clean\n"))
	f.Fuzz(func(t *testing.T, dt []byte) {
		res, err := Rewrite(context.Background(), dt, plan.Options{Offline: true, Platform: "linux/amd64"})
		if err != nil {
			return
		}
		if _, err := parser.Parse(bytes.NewReader(res.Dockerfile)); err != nil {
			t.Fatalf("the result does not parse: %v\n%s", err, res.Dockerfile)
		}
	})
}
