//go:build e2e

package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// secondBuilder is a buildkitd of its own beside the engine's: the same
// binary and docker.io mirror, an empty root and a unix socket under the
// harness's tmp folder, no TCP port. Tests that move caches between
// builders use it as builder B.
type secondBuilder struct {
	dir  string // root/, buildkitd.sock, buildkitd.toml, buildkitd.log
	addr string // unix://…/buildkitd.sock
	cmd  *exec.Cmd
}

// startSecondBuilder starts a buildkitd with an empty root, and stops it
// (and removes its folder) when the test ends.
func startSecondBuilder(t *testing.T) *secondBuilder {
	t.Helper()
	base := os.Getenv("AUTOCACHE_E2E_CACHE")
	if base == "" {
		t.Fatal("AUTOCACHE_E2E_CACHE is not set: is the engine up?")
	}
	if err := os.MkdirAll(filepath.Join(base, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(filepath.Join(base, "tmp"), "b2-")
	if err != nil {
		t.Fatal(err)
	}
	b := &secondBuilder{dir: dir, addr: "unix://" + filepath.Join(dir, "buildkitd.sock")}
	if len(b.addr) > 100 {
		t.Fatalf("socket path too long: %s", b.addr)
	}
	reg := os.Getenv("AUTOCACHE_REGISTRY")
	cfg := fmt.Sprintf(`root = %q
[grpc]
  address = [%q]
[otel]
  socketPath = %q
[worker.oci]
  enabled = true
  snapshotter = "overlayfs"
  networkMode = "host"
  gc = true
  reservedSpace = "2GB"
  maxUsedSpace = "10GB"
  minFreeSpace = "5GB"
[worker.containerd]
  enabled = false
[registry."docker.io"]
  mirrors = [%q]
[registry.%q]
  http = true
`, filepath.Join(dir, "root"), b.addr, filepath.Join(dir, "otel.sock"), reg, reg)
	if err := os.WriteFile(filepath.Join(dir, "buildkitd.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.stop(t)
		if err := os.RemoveAll(b.dir); err != nil {
			t.Logf("removing %s: %v", b.dir, err)
		}
	})
	b.start(t)
	return b
}

// start (re)starts the daemon on its root and waits until it answers.
func (b *secondBuilder) start(t *testing.T) {
	t.Helper()
	bin, err := exec.LookPath("buildkitd")
	if err != nil {
		t.Fatalf("the harness's buildkitd is not on PATH: %v", err)
	}
	logf, err := os.OpenFile(filepath.Join(b.dir, "buildkitd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	os.Remove(strings.TrimPrefix(b.addr, "unix://"))
	b.cmd = exec.Command(bin, "--config", filepath.Join(b.dir, "buildkitd.toml"))
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	b.cmd.Env = append(os.Environ(), "TMPDIR="+b.dir)
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go b.cmd.Wait() //nolint:errcheck // reaped here; stop waits on ProcessState
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if exec.Command("buildctl", "--addr", b.addr, "debug", "workers").Run() == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(b.dir, "buildkitd.log"))
			t.Fatalf("second buildkitd not ready after 60s:\n%s", tail(string(log), 30))
		}
	}
}

// kill stops the daemon with SIGKILL, as a crash or a lost node would,
// and cleans up what it leaves behind.
func (b *secondBuilder) kill(t *testing.T) {
	t.Helper()
	b.signal(t, syscall.SIGKILL, 5*time.Second)
	b.cleanup(t)
}

// stop stops the daemon (SIGTERM, SIGKILL after 15 s) and cleans up.
func (b *secondBuilder) stop(t *testing.T) {
	t.Helper()
	b.signal(t, syscall.SIGTERM, 15*time.Second)
	b.cleanup(t)
}

func (b *secondBuilder) signal(t *testing.T, sig syscall.Signal, grace time.Duration) {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	pid := b.cmd.Process.Pid
	if sig == syscall.SIGKILL {
		// The whole session: buildkitd and the runc processes it started.
		_ = syscall.Kill(-pid, sig)
	}
	_ = b.cmd.Process.Signal(sig)
	for deadline := time.Now().Add(grace); alive(pid) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if alive(pid) {
		_ = b.cmd.Process.Kill()
		time.Sleep(500 * time.Millisecond)
	}
	b.cmd = nil
}

// alive says whether pid runs (and is not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// cleanup kills the processes of build containers the daemon left behind
// (their "/" is an overlay under its root), each by PID, and unmounts
// what is left mounted under its folder, deepest first.
func (b *secondBuilder) cleanup(t *testing.T) {
	root := filepath.Join(b.dir, "root") + "/"
	infos, _ := filepath.Glob("/proc/[0-9]*/mountinfo")
	for _, f := range infos {
		dt, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(dt))
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) > 4 && fields[4] == "/" && strings.Contains(sc.Text(), root) {
				pid, _ := strconv.Atoi(strings.Split(f, "/")[2])
				if pid > 1 && pid != os.Getpid() {
					t.Logf("killing leftover build container process %d", pid)
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
				break
			}
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mounts")
	var ours []string
	for _, line := range strings.Split(string(mounts), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 1 && strings.HasPrefix(fields[1], b.dir+"/") {
			ours = append(ours, fields[1])
		}
	}
	for i := len(ours) - 1; i >= 0; i-- {
		if err := syscall.Unmount(ours[i], 0); err != nil {
			_ = syscall.Unmount(ours[i], syscall.MNT_DETACH)
		}
	}
	// runc's state of our killed containers.
	states, _ := filepath.Glob("/run/runc/*/state.json")
	for _, st := range states {
		if dt, err := os.ReadFile(st); err == nil && bytes.Contains(dt, []byte(`"`+root)) {
			os.RemoveAll(filepath.Dir(st))
		}
	}
}
