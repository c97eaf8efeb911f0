package examples

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAddDependency: each example gets the one dependency, where its
// package manager reads it.
func TestAddDependency(t *testing.T) {
	where := map[string]string{"apt": "Dockerfile", "pip": "requirements.txt", "npm": "package.json", "go": "go.mod"}
	for _, kind := range Kinds {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "examples", kind))); err != nil {
			t.Fatal(err)
		}
		if err := AddDependency(dir, kind, 42); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		b, err := os.ReadFile(filepath.Join(dir, where[kind]))
		if err != nil {
			t.Fatal(err)
		}
		want := "acpkg-042"
		if kind == "go" {
			want = "acpkg.test/m042 v1.0.0"
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("%s: %s has no %q:\n%s", kind, where[kind], want, b)
		}
	}
	if err := AddDependency(t.TempDir(), "pip", 10); err == nil {
		t.Error("dependency 10 (an example's own) was accepted")
	}
}
