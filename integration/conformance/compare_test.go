// Package conformance holds the scripts of `make conformance` (BuildKit's own
// Dockerfile suite, stock vs autocache: docs/conformance.md); this test
// checks compare.sh, the script that decides the verdict, on made-up suite
// logs: it must fail when a column does not pass what stock passes, and when
// a run saw less of the suite than the floor.
package conformance

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// suiteLog is `go test -v` output of the suite with these results, e.g.
// "TestCopy:PASS", "TestRunCache:FAIL", "TestGone:" (started, no result).
func suiteLog(results ...string) string {
	var b strings.Builder
	b.WriteString("=== RUN   TestIntegration\n")
	for _, r := range results {
		name, res, _ := strings.Cut(r, ":")
		full := "TestIntegration/" + name + "/worker=oci/frontend=gateway"
		b.WriteString("=== RUN   " + full + "\n")
		if res != "" {
			b.WriteString("    --- " + res + ": " + full + " (1.23s)\n")
		}
	}
	return b.String()
}

func TestCompare(t *testing.T) {
	if _, err := exec.LookPath("awk"); err != nil {
		t.Fatal("awk is not installed (Debian's mawk is essential)")
	}
	stock := suiteLog("TestCopy:PASS", "TestRunCache:PASS", "TestEnv:PASS", "TestNetwork:FAIL")
	for _, tc := range []struct {
		name      string
		stock     string
		column    string
		floor     string
		wantCode  int
		wantOut   string
		regressed string
	}{
		{"the same results", stock, stock, "3", 0, "OK: probe passes every test that stock passes", ""},
		{"a broken transform fails a RUN test", stock,
			suiteLog("TestCopy:PASS", "TestRunCache:FAIL", "TestEnv:PASS", "TestNetwork:FAIL"),
			"3", 1, "REGRESSION: probe does not pass 1 test(s)", "TestRunCache"},
		{"a crash leaves no result", stock,
			suiteLog("TestCopy:PASS", "TestRunCache:", "TestEnv:PASS", "TestNetwork:FAIL"),
			"3", 1, "REGRESSION: probe does not pass 1 test(s)", "TestRunCache"},
		{"a skip is no pass", stock,
			suiteLog("TestCopy:PASS", "TestRunCache:PASS", "TestEnv:SKIP", "TestNetwork:FAIL"),
			"3", 1, "REGRESSION", "TestEnv"},
		{"passing more than stock is fine", stock,
			suiteLog("TestCopy:PASS", "TestRunCache:PASS", "TestEnv:PASS", "TestNetwork:PASS"),
			"3", 0, "OK", ""},
		{"stock passed nothing", suiteLog("TestCopy:FAIL"), suiteLog("TestCopy:FAIL"), "0", 2, "stock passed nothing", ""},
		{"fewer passes than the floor", stock, stock, "4", 3, "BELOW THE FLOOR: stock passed 3 entries and probe 3, fewer than the 4", ""},
		{"the floor is a minimum", stock, stock, "2", 0, "raise integration/conformance/floor", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name, s string) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			}
			regressed := filepath.Join(dir, "regressed.txt")
			cmd := exec.Command("bash", "compare.sh", write("stock.log", tc.stock), write("probe.log", tc.column), regressed)
			cmd.Env = append(os.Environ(), "COLUMN=probe", "FLOOR="+tc.floor)
			out, err := cmd.CombinedOutput()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode || !strings.Contains(string(out), tc.wantOut) {
				t.Errorf("exit %d, want %d with %q in:\n%s", code, tc.wantCode, tc.wantOut, out)
			}
			got, err := os.ReadFile(regressed)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(string(got)) != tc.regressed {
				t.Errorf("regressed tests = %q, want %q", got, tc.regressed)
			}
		})
	}
}
