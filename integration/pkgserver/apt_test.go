package pkgserver

import (
	"bytes"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// TestAptClient runs the real apt-get against the repository with a
// private configuration (own sources, state and cache; nothing of the
// host's apt or dpkg state is written), then checks the .deb with dpkg-deb
// and installs it with dpkg into a private root.
func TestAptClient(t *testing.T) {
	aptGet := client(t, "apt-get")
	dpkgDeb := client(t, "dpkg-deb")
	s, url := start(t)

	dir := t.TempDir()
	for _, d := range []string{"sources.list.d", "state/lists/partial", "cache/archives/partial", "dl"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sources := filepath.Join(dir, "sources.list")
	if err := os.WriteFile(sources, []byte("deb [trusted=yes] "+url+"/apt acpkg main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := []string{
		"-o", "Dir::Etc::sourcelist=" + sources,
		"-o", "Dir::Etc::sourceparts=" + filepath.Join(dir, "sources.list.d"),
		"-o", "Dir::State=" + filepath.Join(dir, "state"),
		"-o", "Dir::Cache=" + filepath.Join(dir, "cache"),
		"-o", "Debug::NoLocking=1",
		// The temp dir is not readable by _apt; download as ourselves.
		"-o", "APT::Sandbox::User=" + currentUser(t),
	}
	env := environ([]string{"APT_CONFIG=", "LC_ALL=", "LANG=", "LANGUAGE="}, "LC_ALL=C")

	out := run(t, dir, env, aptGet, append(opts, "update")...)
	if !strings.Contains(out, "acpkg/main amd64 Packages") && !strings.Contains(out, "acpkg/main arm64 Packages") {
		t.Errorf("apt-get update fetched no Packages index:\n%s", out)
	}
	indexes := s.Counts().AptIndex
	if indexes < 2 {
		t.Errorf("apt-get update: %d index files counted, want Release and a Packages file", indexes)
	}
	// A second update revalidates Release (If-Modified-Since → 304: "Hit")
	// and downloads no index.
	if out := run(t, dir, env, aptGet, append(opts, "update")...); !strings.Contains(out, "Hit:") {
		t.Errorf("second apt-get update did not revalidate:\n%s", out)
	}
	if got := s.Counts().AptIndex; got != indexes {
		t.Errorf("second apt-get update downloaded %d index files, want 0", got-indexes)
	}
	// The trixie suite: its own lists next to acpkg's, the same pool.
	if err := os.WriteFile(sources, []byte("deb [trusted=yes] "+url+"/apt acpkg main\ndeb [trusted=yes] "+url+"/apt trixie main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run(t, dir, env, aptGet, append(opts, "update")...); !strings.Contains(out, "trixie/main") {
		t.Errorf("apt-get update fetched nothing of trixie:\n%s", out)
	}
	if got := s.Counts().AptIndex - indexes; got != indexes {
		t.Errorf("adding trixie: %d index files downloaded, want %d (as for acpkg)", got, indexes)
	}
	if policy := run(t, dir, env, client(t, "apt-cache"), append(opts, "policy", "acpkg-001")...); !strings.Contains(policy, "trixie/main") {
		t.Errorf("apt-cache policy does not list trixie:\n%s", policy)
	}
	dl := filepath.Join(dir, "dl")
	run(t, dl, env, aptGet, append(opts, "download", "acpkg-001")...)
	wantCounts(t, s, 1, 0, 0, 0)

	deb := filepath.Join(dl, "acpkg-001_1.0.0_all.deb")
	info := run(t, dir, env, dpkgDeb, "-I", deb)
	for _, want := range []string{"Package: acpkg-001", "Version: 1.0.0", "Architecture: all"} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb -I: no %q in\n%s", want, info)
		}
	}
	if list := run(t, dir, env, dpkgDeb, "-c", deb); !strings.Contains(list, "./usr/share/acpkg/acpkg-001/payload") {
		t.Errorf("dpkg-deb -c: no payload in\n%s", list)
	}

	// dpkg -i into a private root: the real installer's checks, with the
	// host's dpkg database untouched.
	dpkg := client(t, "dpkg")
	root := filepath.Join(dir, "root")
	for _, d := range []string{"var/lib/dpkg/updates", "var/lib/dpkg/info"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, env, dpkg, "--root="+root, "--log=/dev/null", "--force-not-root", "-i", deb)
	got, err := os.ReadFile(filepath.Join(root, "usr/share/acpkg/acpkg-001/payload"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload("apt/acpkg-001")) {
		t.Errorf("installed payload differs (%d bytes)", len(got))
	}
}

func currentUser(t *testing.T) string {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}
