#!/usr/bin/env bash
# with-engine.sh CMD [ARGS...]: start the embedded engine (up.sh), run CMD with
# its exports in the environment, and always stop the engine afterwards
# (down.sh), also when up.sh or CMD fails or on Ctrl-C / SIGTERM. Exits with
# CMD's exit code (or up.sh's, if the engine did not come up).
#
# AUTOCACHE_E2E_KEEP=1 leaves the engine running afterwards (for debugging;
# stop it with `make e2e-down`).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }

# shellcheck disable=SC2317 # reached through the trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "${AUTOCACHE_E2E_KEEP:-}" = 1 ]; then
		echo "[engine] AUTOCACHE_E2E_KEEP=1: leaving the engine up (make e2e-down stops it)" >&2
	else
		"$here/down.sh" || echo "[engine] WARNING: down.sh failed" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
# A signal ends the script (after CMD, which got the same Ctrl-C, has exited);
# the EXIT trap then stops the engine.
trap 'exit 130' INT
trap 'exit 143' TERM

exports="$("$here/up.sh")"
eval "$exports"

rc=0
"$@" || rc=$?
exit "$rc"
