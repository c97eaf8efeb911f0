#!/usr/bin/env bash
# `make conformance`: BuildKit's own Dockerfile test suite, stock frontend vs
# autocache, side by side (docs/conformance.md).
#
#   setup.sh    apt packages, engine binaries, test binary, stock frontend, busybox
#   images.sh   stand-in base images (mirror seeded once), golang stand-in,
#               stock.tar and autocache.tar (OCI)
#   suite.sh    the same test binary against stock.tar, then autocache.tar
#   compare.sh  the table; exit 1 if autocache fails what stock passes
#
# Everything lives in .cache/conformance and is reused; nothing is left
# running. CONFORMANCE_RUN='TestCopy.*' narrows the suite (for debugging;
# the verdict is only meaningful for a full run). The table is also written
# to .cache/conformance/logs/table.md.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdirs

# runc creates /run/runc and a buildkitd without [otel] creates
# /run/buildkit; remember whether they existed so cleanup removes only what
# this run created (and only if empty / unused).
RUNC_DIR_EXISTED=1 BK_RUN_DIR_EXISTED=1
[ -e /run/runc ] || RUNC_DIR_EXISTED=0
[ -e /run/buildkit ] || BK_RUN_DIR_EXISTED=0
export RUNC_DIR_EXISTED BK_RUN_DIR_EXISTED
trap cleanup_leftovers EXIT

rev="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[ -z "$(git -C "$REPO" status --porcelain 2>/dev/null)" ] || rev="$rev+uncommitted changes"
log "autocache at $rev, buildkit $BUILDKIT_VERSION; cache $C"
t0=$SECONDS
"$CONF_DIR/setup.sh"
t1=$SECONDS
"$CONF_DIR/images.sh"
t2=$SECONDS
"$CONF_DIR/suite.sh" stock "$OCI/stock.tar"
t3=$SECONDS
"$CONF_DIR/suite.sh" autocache "$OCI/autocache.tar"
t4=$SECONDS

set +e
"$CONF_DIR/compare.sh" "$LOGS/stock.log" "$LOGS/autocache.log" | tee "$LOGS/table.md"
rc=${PIPESTATUS[0]}
set -e
printf '\nautocache %s; wall time: %d s (setup %d, images %d, suite stock %d, suite autocache %d); logs in %s\n' \
	"$rev" $((t4 - t0)) $((t1 - t0)) $((t2 - t1)) $((t3 - t2)) $((t4 - t3)) "$LOGS"
exit "$rc"
