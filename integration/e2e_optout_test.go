//go:build e2e

package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// optOutDockerfile installs n pip packages and n apt packages in two steps
// of one stage; above is what goes between the syntax line and FROM,
// comment the line above the pip step.
func optOutDockerfile(t *testing.T, dir, above, comment string, n int) string {
	t.Helper()
	writeFile(t, dir, "requirements.txt", strings.Join(pkgs(n, "acpkg-%03d==1.0.0"), "\n")+"\n")
	return above + "FROM python:3.11-slim\nARG E2E_RUN\nWORKDIR /app\nCOPY requirements.txt .\n" +
		comment + "RUN pip install --no-cache-dir -r requirements.txt\n" +
		"RUN apt-get update && apt-get install -y --no-install-recommends " + strings.Join(pkgs(n, "acpkg-%03d"), " ") +
		" && rm -rf /var/lib/apt/lists/*\n"
}

// optOutBuild builds the Dockerfile with 5 then 6 packages of each kind
// and returns the rebuild's pip and apt downloads, the rebuild's
// frontend.autocache.steps and its output.
func optOutBuild(t *testing.T, e *engine, run, above, comment string) (pip, apt int, steps, out string) {
	t.Helper()
	dir := t.TempDir()
	args := map[string]string{"E2E_RUN": e.runID + "-" + run, "BUILDKIT_CACHE_MOUNT_NS": "e2e-optout-" + run + "-" + e.runID}
	for _, n := range []int{5, 6} {
		writeDockerfile(t, e, dir, viaSyntax, optOutDockerfile(t, dir, above, comment, n))
		meta := filepath.Join(t.TempDir(), "meta.json")
		before := e.counts(t)
		o, err := e.build(t, buildSpec{dir: dir, mode: viaSyntax, args: args, meta: meta})
		if err != nil {
			t.Fatalf("build with %d packages: %v", n, err)
		}
		after := e.counts(t)
		pip, apt, out = after["pip"]-before["pip"], after["apt"]-before["apt"], o
		var md map[string]any
		b, _ := os.ReadFile(meta)
		if err := json.Unmarshal(b, &md); err != nil {
			t.Fatalf("metadata %s: %v", b, err)
		}
		steps, _ = md["frontend.autocache.steps"].(string) // buildctl writes the value as it is

	}
	return pip, apt, steps, out
}

// TestStepCommentLeavesThatStepAlone: `# autocache: off` above the pip
// step leaves it as upstream makes it (the rebuild downloads every
// package again), while the apt step below it is cached (the rebuild
// downloads the one new package); the build says so.
func TestStepCommentLeavesThatStepAlone(t *testing.T) {
	e := newEngine(t)
	pip, apt, steps, out := optOutBuild(t, e, "step", "", "# autocache: off\n")
	t.Logf("rebuild: pip %d, apt %d, frontend.autocache.steps %q", pip, apt, steps)
	if pip != 6 || apt != 1 || steps != "1" {
		t.Errorf("rebuild downloaded %d pip and %d apt packages with %q steps cached; want 6 (left alone), 1 (cached), \"1\"", pip, apt, steps)
	}
	if strings.Contains(out, "[autocache: pip]") || !strings.Contains(out, "[autocache: apt]") {
		t.Errorf("progress names:\n%s", tail(out, 40))
	}
	// What buildx lists at the end of its output: the build's warnings.
	warns := e.warnings(t, "step", "# autocache: off\n")
	if !slices.Contains(warns, "autocache: 1 step cached: apt; 1 step under `# autocache: off`") {
		t.Errorf("the build's warnings do not say what was cached: %q", warns)
	}
}

// warnings builds the 6-package Dockerfile of optOutBuild's run again (all
// cached by now) and returns the warnings in the build's status stream,
// the ones buildx lists at the end of its default output ("N warnings
// found"). buildctl's plain output does not print a warning that arrives
// after its vertex finished, so this reads --progress=rawjson.
func (e *engine) warnings(t *testing.T, run, comment string) []string {
	t.Helper()
	dir := t.TempDir()
	writeDockerfile(t, e, dir, viaSyntax, optOutDockerfile(t, dir, "", comment, 6))
	args := []string{"build", "--progress=rawjson", "--local", "context=" + dir, "--local", "dockerfile=" + dir, "--frontend", "dockerfile.v0",
		"--opt", "build-arg:E2E_RUN=" + e.runID + "-" + run, "--opt", "build-arg:BUILDKIT_CACHE_MOUNT_NS=e2e-optout-" + run + "-" + e.runID}
	cmd := exec.Command("buildctl", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("buildctl: %v\n%s", err, tail(stderr.String(), 30))
	}
	var out []string
	dec := json.NewDecoder(&stderr)
	for {
		var st struct {
			Warnings []struct {
				Short []byte `json:"short"`
			} `json:"warnings"`
		}
		if err := dec.Decode(&st); err != nil {
			break
		}
		for _, w := range st.Warnings {
			out = append(out, string(w.Short))
		}
	}
	return out
}

// TestDirectiveTurnsAutocacheOff: `# autocache=off` after the syntax line
// gives upstream's build (every package downloaded again, no step
// cached); with `# autocache=managers=apt`, only apt is cached.
func TestDirectiveTurnsAutocacheOff(t *testing.T) {
	e := newEngine(t)
	pip, apt, steps, _ := optOutBuild(t, e, "off", "# autocache=off\n", "")
	t.Logf("off: rebuild pip %d, apt %d, steps %q", pip, apt, steps)
	if pip != 6 || apt != 6 || steps != "0" {
		t.Errorf("with # autocache=off the rebuild downloaded %d pip and %d apt packages, %q steps cached; want 6, 6, \"0\"", pip, apt, steps)
	}
	pip, apt, steps, _ = optOutBuild(t, e, "managers", "# autocache=managers=apt\n", "")
	t.Logf("managers=apt: rebuild pip %d, apt %d, steps %q", pip, apt, steps)
	if pip != 6 || apt != 1 || steps != "1" {
		t.Errorf("with # autocache=managers=apt the rebuild downloaded %d pip and %d apt packages, %q steps cached; want 6, 1, \"1\"", pip, apt, steps)
	}
}

// TestMisspelledSettingFailsWithItsLine: a setting autocache can't read
// fails the build with its Dockerfile line, as upstream reports errors.
func TestMisspelledSettingFailsWithItsLine(t *testing.T) {
	e := newEngine(t)
	dir := t.TempDir()
	writeDockerfile(t, e, dir, viaSyntax, optOutDockerfile(t, dir, "", "# autocache: of\n", 1))
	out, err := e.build(t, buildSpec{dir: dir, mode: viaSyntax, args: map[string]string{"E2E_RUN": e.runID}})
	if err == nil {
		t.Fatal("a misspelled `# autocache: of` built")
	}
	if !strings.Contains(out, "Dockerfile:6") || !strings.Contains(out, "the only setting for one step is `# autocache: off`") {
		t.Errorf("error output:\n%s", tail(out, 30))
	}
}
