package pkgserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCargoProtocol(t *testing.T) {
	s, base := start(t)
	code, _, body := get(t, "GET", base+"/cargo/config.json", "Host", "example.test:1234")
	if code != 200 || string(body) != `{"api":null,"dl":"http://example.test:1234/cargo/crates"}`+"\n" {
		t.Errorf("config.json = %d %s", code, body)
	}
	code, hdr, body := get(t, "GET", base+"/cargo/ac/pk/acpkg-007")
	var entry struct {
		Name, Vers, Cksum string
		Deps              []any
		Yanked            bool
	}
	if err := json.Unmarshal(body, &entry); err != nil || code != 200 || bytes.Count(body, []byte("\n")) != 1 {
		t.Fatalf("index file: %d %v %s", code, err, body)
	}
	sum, err := CargoChecksum(7)
	if err != nil {
		t.Fatal(err)
	}
	if entry.Name != "acpkg-007" || entry.Vers != "1.0.0" || entry.Cksum != sum || entry.Deps == nil || entry.Yanked {
		t.Errorf("index entry %s", body)
	}
	if code, _, _ := get(t, "GET", base+"/cargo/ac/pk/acpkg-007", "If-None-Match", hdr.Get("ETag")); code != 304 {
		t.Errorf("index revalidation = %d, want 304", code)
	}
	code, hdr, body = get(t, "GET", base+"/cargo/crates/acpkg-007/1.0.0/download")
	if code != 200 || hdr.Get("Cache-Control") != cargoCrateCache {
		t.Fatalf("crate: %d %v", code, hdr)
	}
	names := tgzNames(t, body)
	if want := "[acpkg-007-1.0.0/Cargo.toml acpkg-007-1.0.0/payload.bin acpkg-007-1.0.0/src/lib.rs]"; fmt.Sprint(names) != want {
		t.Errorf("crate files = %v, want %s", names, want)
	}
	wantKind(t, s, KindCargo, 1)
	wantCounts(t, s, 0, 0, 0, 0)
}

// TestCargoClient runs the real cargo against the registry as a
// replacement of crates.io, with a fresh CARGO_HOME: cargo fetch of two
// crates downloads two; adding a third and fetching again downloads one;
// cargo build --locked compiles them; the Cargo.lock cargo writes is what
// CargoLock (used by the e2e tests) produces.
func TestCargoClient(t *testing.T) {
	cargo := client(t, "cargo")
	s, base := start(t)
	dir := t.TempDir()
	home, proj := filepath.Join(dir, "cargo-home"), filepath.Join(dir, "app")
	for _, d := range []string{home, filepath.Join(proj, "src")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(home, "config.toml"), fmt.Sprintf("[source.crates-io]\nreplace-with = \"acpkg\"\n\n[source.acpkg]\nregistry = \"sparse+%s/cargo/\"\n", base))
	write(filepath.Join(proj, "src/main.rs"), "fn main() {\n    println!(\"{}\", acpkg_001::PAYLOAD.len() + acpkg_002::PAYLOAD.len());\n}\n")
	manifest := func(n int) string {
		var b strings.Builder
		b.WriteString("[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n")
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "%s = \"%s\"\n", PackageName(i), Version)
		}
		return b.String()
	}
	// The host's cargo and rustc come through rustup (RUSTUP_HOME kept);
	// nothing else of the host's cargo setup.
	env := environ([]string{"CARGO_", "RUSTC", "RUSTFLAGS"}, "CARGO_HOME="+home, "CARGO_TARGET_DIR="+filepath.Join(dir, "target"))

	write(filepath.Join(proj, "Cargo.toml"), manifest(2))
	run(t, proj, env, cargo, "fetch")
	wantKind(t, s, KindCargo, 2)
	lock, err := os.ReadFile(filepath.Join(proj, "Cargo.lock"))
	if err != nil {
		t.Fatal(err)
	}
	if want, err := CargoLock("app", "0.1.0", 2); err != nil || string(lock) != want {
		t.Errorf("Cargo.lock:\n%s\nCargoLock (%v):\n%s", lock, err, want)
	}

	write(filepath.Join(proj, "Cargo.toml"), manifest(3))
	want3, err := CargoLock("app", "0.1.0", 3)
	if err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(proj, "Cargo.lock"), want3)
	run(t, proj, env, cargo, "fetch", "--locked")
	wantKind(t, s, KindCargo, 3)
	run(t, proj, env, cargo, "build", "--locked", "--offline")
	out := run(t, proj, env, filepath.Join(dir, "target/debug/app"))
	if strings.TrimSpace(out) != fmt.Sprint(2*PayloadSize) {
		t.Errorf("app printed %q", out)
	}
	wantKind(t, s, KindCargo, 3)
	wantCounts(t, s, 0, 0, 0, 0)
}
