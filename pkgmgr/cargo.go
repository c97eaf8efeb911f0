package pkgmgr

import (
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// Cargo downloads into $CARGO_HOME (else ~/.cargo): registry/ (index,
// .crate files, extracted sources) and git/db (bare clones of git
// dependencies). Those two are mounted. The rest of CARGO_HOME is product:
// bin/ holds `cargo install`ed binaries and, in the rust image
// (CARGO_HOME=/usr/local/cargo), cargo and rustc themselves; .crates.toml
// and .crates2.json record installs. target/ is the build's output: never.
// git/checkouts stays too (working trees cargo makes from git/db).
//
// Steps that only build (`cargo build --offline` after a `cargo fetch`)
// get the same mounts, so they see what the fetching step downloaded.
//
// Sharing: locked. Cargo's package-cache lock is $CARGO_HOME/.package-cache,
// outside the mounts: it can't keep two builds from writing the same crate.

var cargoDownloads = map[string]bool{
	"build": true, "b": true, "check": true, "c": true, "test": true, "t": true, "run": true, "r": true,
	"fetch": true, "install": true, "update": true, "generate-lockfile": true, "vendor": true, "doc": true,
	"d": true, "clippy": true, "bench": true, "package": true, "publish": true, "tree": true, "metadata": true,
	"fix": true, "rustc": true, "rustdoc": true, "chef": true, "zigbuild": true, "auditable": true,
	"nextest": true, "leptos": true, "binstall": true, "deny": true, "audit": true, "add": true,
}

var cargoValued = []string{"--config", "-C", "--color", "-Z", "--manifest-path", "--target-dir"}

func init() {
	register(manager{
		Name:          "cargo",
		Programs:      []string{"cargo", "xx-cargo"},
		CacheVars:     []string{"CARGO_HOME"},
		CachePrograms: []string{"cargo"},
		Analyze:       func(t *task) { cargoCLI.run(t) },
	})
}

var cargoCLI = cli{
	sub:     cargoSub,
	fetches: cargoDownloads,
	cache:   firstOf(envDir("CARGO_HOME", ""), homeDir(shell.Home, ".cargo")),
	mounts: func(call, string) []mount {
		return []mount{{dir: "registry"}, {dir: "git/db"}}
	},
	sharing: Locked,
}

func cargoSub(c call) string {
	i := c.from
	for i < len(c.Argv) && c.Argv[i].Known && strings.HasPrefix(c.Argv[i].Val, "+") { // cargo +nightly build
		i++
	}
	rest, ok := shell.SkipOptions(c.Argv[i:], "CZ", cargoValued)
	if !ok || len(rest) == 0 || !rest[0].Known {
		return ""
	}
	return rest[0].Val
}
