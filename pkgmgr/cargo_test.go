package pkgmgr

import "testing"

var (
	cargoUsr = []string{"/usr/local/cargo/git/db locked 0:0", "/usr/local/cargo/registry locked 0:0"}
	// rust image
	rustEnv = []string{"RUSTUP_HOME=/usr/local/rustup", "CARGO_HOME=/usr/local/cargo",
		"PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "RUST_VERSION=1.86.0"}
)

// Shapes from the corpus (distroless rust, lemmy, meilisearch, qdrant,
// vaultwarden, cargo-chef, awesome-compose) and the Docker docs' Rust tab.
func TestCargo(t *testing.T) { runCases(t, cargoCases) }

func init() { registerCases("cargo", cargoCases) }

var cargoCases = []tcase{{
	name: "rust image: build --release", in: "cargo build --release", env: rustEnv, cwd: "/app",
	caches: cargoUsr, notes: []string{"cargo: cache /usr/local/cargo/registry (locked)", "cargo: cache /usr/local/cargo/git/db (locked)"},
}, {
	name: "distroless: cargo install --path .", in: "cargo install --path . --locked", env: rustEnv, caches: cargoUsr,
}, {
	name: "fetch then build offline in one step", in: "cargo fetch --locked && cargo build --release --offline",
	env: rustEnv, caches: cargoUsr,
}, {
	name: "cargo-chef cook", in: "cargo chef cook --release --recipe-path recipe.json", env: rustEnv, caches: cargoUsr,
}, {
	name: "toolchain selector and -Z", in: "cargo +nightly -Z unstable-options build --release", env: rustEnv, caches: cargoUsr,
}, {
	name: "rm of the registry after the build goes", in: "cargo build --release && rm -rf /usr/local/cargo/registry",
	env: rustEnv, out: "cargo build --release && true", caches: cargoUsr,
	notes: []string{"cargo: removed `rm -rf /usr/local/cargo/registry`"},
}, {
	name: "rm of all of CARGO_HOME would take the mountpoints", in: "cargo install ripgrep && rm -rf $CARGO_HOME",
	env: rustEnv, notes: []string{"skipped /usr/local/cargo/registry: `rm -rf $CARGO_HOME` would remove the mountpoint"},
}, {
	name: "without CARGO_HOME: ~/.cargo", in: "cargo build --release", env: debianEnv,
	caches: []string{"/root/.cargo/git/db locked 0:0", "/root/.cargo/registry locked 0:0"},
}, {
	name: "xx-cargo", in: "xx-cargo build --release --target-dir ./build", env: rustEnv, caches: cargoUsr,
}, {
	name: "numeric user, CARGO_HOME known", in: "cargo build", user: "1000:1000", env: rustEnv,
	caches: []string{"/usr/local/cargo/git/db locked 1000:1000", "/usr/local/cargo/registry locked 1000:1000"},
}, {
	name: "version, rustup, clean: none",
	in:   "cargo --version && rustup target add x86_64-unknown-linux-musl && cargo clean", env: rustEnv, none: true,
}}
