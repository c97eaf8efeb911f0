package pkgserver

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The tests in this package run the real clients (apt-get, pip, npm, go,
// cargo) against the server. integration/tools.sh installs them; a machine
// without one skips its tests, except under CI=true, where a missing client
// fails the test with its name: CI must never pass by not running them.

// client returns the path of a real client program (see above).
func client(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, name, err.Error())
	}
	return p
}

// pip returns the python3 whose `-m pip` works (see above).
func pip(t testing.TB) string {
	t.Helper()
	python := client(t, "python3")
	if out, err := exec.Command(python, "-m", "pip", "--version").CombinedOutput(); err != nil {
		missing(t, "pip (python3 -m pip)", strings.TrimSpace(err.Error()+": "+string(out)))
	}
	return python
}

func missing(t testing.TB, tool, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (%s); under CI=true that fails the test: integration/tools.sh installs it", tool, why)
	}
	t.Skipf("%s is not installed (%s); integration/tools.sh installs it", tool, why)
}

// TestMissingClientFailsUnderCI runs one client test again in a child
// process whose PATH has no clients: under CI=true it must fail and name the
// tool, without CI it is skipped.
func TestMissingClientFailsUnderCI(t *testing.T) {
	for _, tc := range []struct {
		test, tool string
	}{
		{"TestNpmClient", "npm is not installed"},
		{"TestPipClient", "python3 is not installed"},
		{"TestCargoClient", "cargo is not installed"},
	} {
		for _, ci := range []string{"true", ""} {
			cmd := exec.Command(os.Args[0], "-test.run", "^"+tc.test+"$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "PATH="+t.TempDir(), "CI="+ci)
			out, err := cmd.CombinedOutput()
			got := string(out)
			if !strings.Contains(got, tc.tool) {
				t.Errorf("%s with CI=%q: the output does not say %q:\n%s", tc.test, ci, tc.tool, got)
			}
			if ci == "true" && (err == nil || !strings.Contains(got, "--- FAIL: "+tc.test)) {
				t.Errorf("%s with CI=true and no clients on PATH: want a failure, got err=%v:\n%s", tc.test, err, got)
			}
			if ci == "" && (err != nil || !strings.Contains(got, "--- SKIP: "+tc.test)) {
				t.Errorf("%s without CI and no clients on PATH: want a skip, got err=%v:\n%s", tc.test, err, got)
			}
		}
	}
}
