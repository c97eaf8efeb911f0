package pkgmgr

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// TestRealShells checks every edited script of the corpus and the tables
// with the shell that will run it (dash for sh, bash): `-n` parses without
// running. mvdan.cc/sh agreeing with itself is not enough.
func TestRealShells(t *testing.T) {
	for _, sh := range []string{"dash", "bash"} {
		if _, err := exec.LookPath(sh); err != nil {
			if os.Getenv("CI") == "true" { // CI must never pass by not running it
				t.Fatalf("%s is not installed (Debian's dash and bash are essential packages)", sh)
			}
			t.Skipf("no %s here", sh)
		}
	}
	var steps []corpusStep
	files, _ := filepath.Glob("testdata/corpus/*")
	for _, f := range files {
		if !strings.HasSuffix(f, ".md") {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			steps = append(steps, corpusSteps(t, filepath.Base(f), data)...)
		}
	}
	for _, cases := range tableCases() {
		for _, c := range cases {
			steps = append(steps, corpusStep{where: c.name, step: c.step()})
		}
	}
	n := 0
	for _, cs := range steps {
		p, err := Analyze(cs.step, Options{})
		i, _, ok := shell.ScriptArg(cs.step.Args)
		if err != nil || !ok || p.Args == nil || p.Args[i] == cs.step.Args[i] {
			continue
		}
		sh := "dash"
		if path.Base(cs.step.Args[0]) == "bash" {
			sh = "bash"
		}
		n++
		if out, err := exec.Command(sh, "-n", "-c", p.Args[i]).CombinedOutput(); err != nil {
			t.Errorf("%s: %s -n: %v %s\n%s", cs.where, sh, err, out, p.Args[i])
		}
	}
	if n < 50 {
		t.Errorf("only %d edited scripts", n)
	}
}
