package pkgmgr

import "testing"

var (
	hexRoot = []string{"/root/.hex/packages locked 0:0"}
	// Phoenix's generated Dockerfile (mix phx.gen.release --docker) on the
	// elixir image.
	mixEnv = append([]string{"MIX_ENV=prod", "LANG=C.UTF-8"}, debianEnv...)
)

func TestHex(t *testing.T) { runCases(t, hexCases) }

func init() { registerCases("hex", hexCases) }

var hexCases = []tcase{{
	name: "phoenix: deps.get for prod", in: "mix deps.get --only $MIX_ENV", env: mixEnv,
	caches: hexRoot, notes: []string{"hex: cache /root/.hex/packages (locked)"},
}, {
	name: "local.hex and local.rebar fetch no packages", in: "mix local.hex --force && mix local.rebar --force", env: mixEnv,
	none: true,
}, {
	name: "deps.compile after the fetch: nothing of its own", in: "mix deps.compile", env: mixEnv, none: true,
}, {
	name: "mix do, old and new syntax", in: "mix do deps.get, compile && mix do deps.update --all + compile", env: mixEnv,
	caches: hexRoot,
}, {
	name: "mix do without a fetch", in: "mix do compile, release", env: mixEnv, none: true,
}, {
	name: "HEX_HOME", in: "mix deps.get", env: append([]string{"HEX_HOME=/opt/hex"}, mixEnv...),
	caches: []string{"/opt/hex/packages locked 0:0"},
}, {
	name: "MIX_XDG: the XDG cache dir", in: "MIX_XDG=1 mix deps.get", env: mixEnv,
	caches: []string{"/root/.cache/hex/packages locked 0:0"},
}, {
	name: "MIX_XDG with XDG_CACHE_HOME", in: "mix deps.get", env: append([]string{"MIX_XDG=true", "XDG_CACHE_HOME=/xdg"}, mixEnv...),
	caches: []string{"/xdg/hex/packages locked 0:0"},
}, {
	name: "HEX_HOME beats MIX_XDG", in: "mix deps.get", env: append([]string{"MIX_XDG=1", "HEX_HOME=/hex"}, mixEnv...),
	caches: []string{"/hex/packages locked 0:0"},
}, {
	name: "a relative HEX_HOME is skipped", in: "HEX_HOME=hex mix deps.get", env: mixEnv,
	notes: []string{"hex: skipped: HEX_HOME=hex is not an absolute path"},
}, {
	name: "HEX_OFFLINE runs from the image's tarballs", in: "HEX_OFFLINE=1 mix deps.get", env: mixEnv,
	notes: []string{"hex: skipped /root/.hex/packages: HEX_OFFLINE: Hex uses the image's cached tarballs"},
}, {
	name: "non-root user with HOME", in: "mix deps.get", user: "1000:1000", env: append([]string{"HOME=/home/app"}, mixEnv...),
	caches: []string{"/home/app/.hex/packages locked 1000:1000"},
}, {
	name: "numeric user without HOME", in: "mix deps.get", user: "1000", env: mixEnv,
	notes: []string{"hex: skipped: home of user 1000 unknown"},
}, {
	name: "rm of the packages after the fetch goes", in: "mix deps.get && rm -rf ~/.hex/packages", env: mixEnv,
	out: "mix deps.get && true", caches: hexRoot,
}, {
	name: "rm of the whole Hex home would remove the mountpoint", in: "mix deps.get && rm -rf /root/.hex", env: mixEnv,
	notes: []string{"hex: skipped /root/.hex/packages: `rm -rf /root/.hex` would remove the mountpoint"},
}}
