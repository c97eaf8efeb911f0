#!/usr/bin/env bash
# Install the programs the unit tests run that a fresh Debian 12 may lack,
# from Debian's packages (make unit runs this first). The hermetic registries'
# tests in integration/pkgserver run the real clients: apt-get, apt-cache,
# dpkg and dpkg-deb (always on Debian), go (the Makefile's), python3 with pip,
# npm and cargo. Idempotent and quiet when nothing is missing.
#
# cargo must speak the sparse registry protocol (cargo 1.68+): Debian 12's
# own `cargo` is 0.66, so a missing or older cargo is replaced by Debian's
# `cargo-web` (cargo 1.85, /usr/bin/cargo). A cargo found on PATH that is new
# enough (rustup's, say) is used as it is.
#
# Not root: prints what is missing and leaves it to the tests, which skip
# (and fail under CI=true) naming the tool.
set -euo pipefail

missing=()
command -v python3 >/dev/null || missing+=(python3)
if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
	missing+=(python3-pip)
fi
command -v npm >/dev/null || missing+=(npm)
cargo_ok() {
	local v
	v="$(cargo --version 2>/dev/null | awk '{ print $2 }')" || return 1 # cargo 1.95.0 (...)
	[ -n "$v" ] && [ "${v%%.*}" -ge 1 ] && [ "$(echo "$v" | cut -d. -f2)" -ge 68 ]
}
cargo_ok || missing+=(cargo-web)
for t in apt-get apt-cache dpkg dpkg-deb; do
	command -v "$t" >/dev/null || { echo "tools.sh: $t is missing: this is not a Debian system" >&2; exit 1; }
done

[ ${#missing[@]} -gt 0 ] || exit 0
if [ "$(id -u)" != 0 ]; then
	echo "tools.sh: the tests need Debian's ${missing[*]}: run as root, or: apt-get install ${missing[*]}" >&2
	[ "${CI:-}" != true ] || exit 1
	exit 0
fi
echo "tools.sh: apt-get install ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
if ! { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	rm -f "$log"
	echo "tools.sh: installing ${missing[*]} failed" >&2
	exit 1
fi
rm -f "$log"
hash -r
cargo_ok || { echo "tools.sh: cargo on PATH is still older than 1.68: $(command -v cargo)" >&2; exit 1; }
