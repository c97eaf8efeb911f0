//go:build e2e

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// buildx is the docker CLI with the buildx plugin (integration/engine/setup.sh
// puts both in the engine's bin folder), in a private DOCKER_CONFIG, with a
// builder of buildx's remote driver on the engine's buildkitd: what a user
// with a shared buildkitd runs.
type buildx struct {
	config, builder string
}

func newBuildx(t *testing.T, e *engine) *buildx {
	t.Helper()
	bin := os.Getenv("AUTOCACHE_E2E_CACHE") + "/bin"
	b := &buildx{config: t.TempDir(), builder: "autocache-e2e-" + strings.ReplaceAll(e.runID, "-", "")}
	if err := os.MkdirAll(filepath.Join(b.config, "cli-plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(bin, "cli-plugins", "docker-buildx"), filepath.Join(b.config, "cli-plugins", "docker-buildx")); err != nil {
		t.Fatal(err)
	}
	if out, err := b.run(t, "", nil, "buildx", "create", "--name", b.builder, "--driver", "remote", os.Getenv("BUILDKIT_HOST")); err != nil {
		t.Fatalf("docker buildx create: %v\n%s", err, out)
	}
	t.Cleanup(func() { b.run(t, "", nil, "buildx", "rm", b.builder) })
	return b
}

// run runs `docker ARGS…` in dir with extra environment; it returns the
// combined output.
func (b *buildx) run(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(os.Getenv("AUTOCACHE_E2E_CACHE"), "bin", "docker"), args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "DOCKER_CONFIG="+b.config, "BUILDX_NO_DEFAULT_ATTESTATIONS=1"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("docker %s (%s): %v", strings.Join(args[:min(len(args), 3)], " "), time.Since(start).Round(time.Millisecond), err)
	if err != nil {
		t.Logf("output:\n%s", tail(out.String(), 40))
	}
	return out.String(), err
}

// TestDockerBuildx builds with the clients users run, docker buildx build
// and docker buildx bake, through each org-wide way of choosing autocache:
// a rebuild after one new dependency downloads one package, the metadata
// file says how many steps autocache changed, and the build output says
// what it cached.
func TestDockerBuildx(t *testing.T) {
	e := newEngine(t)
	b := newBuildx(t, e)
	fx := fixtures[1] // pip: the quickest of the four
	ref := e.frontend
	for _, lever := range []struct {
		name  string
		first string   // the Dockerfile's first line
		flags []string // docker buildx build flags; nil: bake
		bake  string   // docker-bake.hcl
		env   []string // docker's environment
	}{
		{name: "syntax line", first: "# syntax=" + ref},
		{name: "BUILDKIT_SYNTAX build arg", first: "# no syntax line", flags: []string{"--build-arg", "BUILDKIT_SYNTAX=" + ref}},
		{name: "bake args", first: "# no syntax line", bake: `target "default" {
  args = { BUILDKIT_SYNTAX = "` + ref + `" }
}`},
		// A Dockerfile that pins upstream's syntax: a named build context
		// of that name replaces the frontend image it names.
		{name: "docker/dockerfile:1 remapped", first: "# syntax=docker/dockerfile:1",
			flags: []string{"--build-context", "docker/dockerfile:1=docker-image://" + ref}},
		// The same, for every build of one client: a BuildKit source
		// policy that converts the upstream syntax image into autocache's.
		{name: "source policy", first: "# syntax=docker/dockerfile:1",
			env: []string{"EXPERIMENTAL_BUILDKIT_SOURCE_POLICY=" + sourcePolicy(t, "docker-image://docker.io/docker/dockerfile:1", "docker-image://"+ref)}},
	} {
		t.Run(lever.name, func(t *testing.T) {
			dir := t.TempDir()
			ns := fmt.Sprintf("e2e-bx-%s-%d", e.runID, time.Now().UnixNano())
			step := func(n int) (int, string, map[string]any) {
				body := fx.files(t, e, dir, n)
				writeFile(t, dir, "Dockerfile", lever.first+"\n"+body)
				meta := filepath.Join(t.TempDir(), "meta.json")
				args := []string{"--builder", b.builder, "--progress=plain", "--metadata-file", meta,
					"--build-arg", "E2E_RUN=" + e.runID, "--build-arg", "BUILDKIT_CACHE_MOUNT_NS=" + ns}
				var cmd []string
				if lever.bake != "" {
					writeFile(t, dir, "docker-bake.hcl", lever.bake)
					out := t.TempDir() // outside the bake file's folder: an entitlement
					cmd = append([]string{"buildx", "bake", "--allow=fs.write=" + out, "--set", "*.output=type=tar,dest=" + filepath.Join(out, "image.tar")}, args...)
					for i := 0; i < len(cmd); i++ { // bake takes build args as --set *.args.K=V
						if cmd[i] == "--build-arg" {
							cmd[i], cmd[i+1] = "--set", "*.args."+cmd[i+1]
						}
					}
				} else {
					cmd = append(append([]string{"buildx", "build", "--output", "type=tar,dest=" + filepath.Join(t.TempDir(), "image.tar")}, args...), lever.flags...)
					cmd = append(cmd, ".")
				}
				before := e.counts(t)[fx.kind]
				out, err := b.run(t, dir, lever.env, cmd...)
				if err != nil {
					t.Fatalf("%s with %d packages: %v", lever.name, n, err)
				}
				var md map[string]any
				dt, err := os.ReadFile(meta)
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(dt, &md); err != nil {
					t.Fatalf("metadata file: %v\n%s", err, dt)
				}
				if target, ok := md["default"].(map[string]any); ok && lever.bake != "" {
					md = target // bake's metadata is per target
				}
				return e.counts(t)[fx.kind] - before, out, md
			}
			if cold, _, _ := step(5); cold != 5 {
				t.Errorf("cold build downloaded %d package files, want 5", cold)
			}
			n, out, md := step(6)
			if n != 1 {
				t.Errorf("rebuild after adding one dependency downloaded %d package files, want 1", n)
			}
			if steps := metaInt(md, "frontend.autocache.steps"); steps < 1 {
				t.Errorf("the metadata file says autocache changed %d steps, want at least 1:\n%v", steps, md)
			}
			// The step's progress name, and the summary among the warnings
			// buildx lists at the end of its output.
			for _, want := range []string{"[autocache: pip]", "autocache: 1 step cached: pip"} {
				if !strings.Contains(out, want) {
					t.Errorf("the build output does not say %q:\n%s", want, tail(out, 40))
				}
			}
		})
	}
}

// sourcePolicy writes a BuildKit source policy that converts one source
// into another and returns its path.
func sourcePolicy(t *testing.T, from, to string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "policy.json", `{"rules": [{"action": "CONVERT", "selector": {"identifier": "`+from+`"}, "updates": {"identifier": "`+to+`"}}]}`)
	return filepath.Join(dir, "policy.json")
}

// metaInt reads a number from a metadata file, whatever its JSON form
// (a number, or a string as BuildKit's exporter response has it).
func metaInt(md map[string]any, key string) int {
	switch v := md[key].(type) {
	case float64:
		return int(v)
	case string:
		n, _ := strconv.Atoi(v)
		return n
	}
	return -1
}
