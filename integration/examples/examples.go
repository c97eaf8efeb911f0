// Package examples changes the projects in the top-level examples/ the way
// a developer would: one more dependency, served by the hermetic registries
// (integration/pkgserver). The demo and the benchmarks use it.
package examples

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/autocache/autocache/integration/pkgserver"
)

// Kinds are the examples, one per package manager.
var Kinds = []string{"apt", "pip", "npm", "go"}

// AddDependency adds acpkg-NNN (n from 11 to pkgserver.NumPackages; 1–10
// are the examples' own) to the copy of examples/kind in dir.
func AddDependency(dir, kind string, n int) error {
	if n <= 10 || n > pkgserver.NumPackages {
		return fmt.Errorf("examples: dependency %d: want 11 … %d", n, pkgserver.NumPackages)
	}
	name := fmt.Sprintf("acpkg-%03d", n)
	switch kind {
	case "apt":
		return Edit(dir, "Dockerfile", func(s string) string {
			return strings.Replace(s, "acpkg-010 \\\n", "acpkg-010 \\\n      "+name+" \\\n", 1)
		})
	case "pip":
		return Edit(dir, "requirements.txt", func(s string) string { return s + name + "==1.0.0\n" })
	case "npm":
		return Edit(dir, "package.json", func(s string) string {
			return strings.Replace(s, `"acpkg-010": "1.0.0"`, `"acpkg-010": "1.0.0",`+"\n    "+`"`+name+`": "1.0.0"`, 1)
		})
	case "go":
		m := pkgserver.GoModule(n)
		sum, err := pkgserver.GoSum(m)
		if err != nil {
			return err
		}
		if err := Edit(dir, "go.mod", func(s string) string { return strings.Replace(s, "\n)\n", "\n\t"+m+" v1.0.0\n)\n", 1) }); err != nil {
			return err
		}
		if err := Edit(dir, "go.sum", func(s string) string { return s + sum }); err != nil {
			return err
		}
		return Edit(dir, "main.go", func(s string) string { return strings.Replace(s, "\n)\n", "\n\t_ \""+m+"\"\n)\n", 1) })
	}
	return fmt.Errorf("examples: no example %q", kind)
}

// Edit rewrites dir/name with f; an edit that changes nothing is an error.
func Edit(dir, name string, f func(string) string) error {
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	after := f(string(b))
	if after == string(b) {
		return fmt.Errorf("%s: the edit changed nothing", p)
	}
	return os.WriteFile(p, []byte(after), 0o644)
}
