#!/usr/bin/env bash
# `make conformance`: BuildKit's own Dockerfile test suite, stock frontend vs
# autocache, side by side (docs/conformance.md).
#
#   setup.sh    apt packages, engine binaries, test binary, stock frontend, busybox
#   images.sh   stand-in base images (mirror seeded once), golang stand-in,
#               stock.tar and autocache.tar (OCI)
#   suite.sh    the same test binary against stock.tar, then autocache.tar
#   compare.sh  the table; exit 1 if autocache fails what stock passes
#               (after one retry of just those tests, with both frontends)
#
# The checkout's own files live in .cache/conformance, what does not change
# between checkouts in the machine-level cache (integration/engine/mcache.sh);
# nothing is left running. CONFORMANCE_RUN='TestCopy.*' narrows the suite
# (for debugging; the verdict is only meaningful for a full run). The table
# is also written to .cache/conformance/logs/table.md.
#
# The stock column depends on nothing of autocache's: its results are kept
# in the machine-level cache, keyed by everything it ran (the suite binary,
# the stock image, the stand-in images, the engine binaries, this script's
# settings, the kernel), and a full run whose key was seen before reuses
# them (CONFORMANCE_FRESH_STOCK=1 runs it again). A retry always runs both.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdirs

# One run at a time per cache folder: runs share the mirror, the helper
# daemon's root and the binaries, and the cleanup stops every process
# started from $C/bin.
exec 9>"$C/run.lock"
flock -n 9 || die "another conformance run is using $C"
mc_hold # fd 8: the machine-level cache is in use
export CONFORMANCE_COLUMNS # (default in lib.sh)

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
phase_time "setup conformance" $((t1 - t0))
"$CONF_DIR/images.sh"
t2=$SECONDS
phase_time "images conformance" $((t2 - t1))

# The stock column: run, or reused from the machine-level cache (see above).
stock_key=""
if [ -z "${CONFORMANCE_RUN:-}" ] && [ "${CONFORMANCE_FRESH_STOCK:-}" != 1 ]; then
	stock_key="$(mc_hash "$BIN/dockerfile.test" "$OCI/stock.tar" "$(cat "$STAMPS/seed")" "$BIN/buildkitd" \
		"$BIN/registry" "$CONF_DIR/suite.sh" "network ${CONFORMANCE_NETWORK:-1}" "kernel $(uname -r)")"
fi
if [ -n "$stock_key" ] && mc_have conformance-stock-results "$stock_key"; then
	cp "$(mc_path conformance-stock-results "$stock_key")/stock.log" "$LOGS/stock.log"
	log "suite vs stock: reusing the results of $(date -r "$(mc_path conformance-stock-results "$stock_key")/stock.log" '+%Y-%m-%d %H:%M') (conformance-stock-results/$stock_key; CONFORMANCE_FRESH_STOCK=1 runs it again)"
	stock_how="stock reused"
else
	"$CONF_DIR/suite.sh" stock "$OCI/stock.tar"
	save_stock() { cp "$LOGS/stock.log" "$1/stock.log"; }
	[ -z "$stock_key" ] || mc_make conformance-stock-results "$stock_key" 4 save_stock
	stock_how="stock"
fi
t3=$SECONDS

# The autocache columns, each against stock, each with its own retry.
# Flakes: a single failure must not turn CI red. If a column did not pass
# tests that stock passed (compare.sh exit 1), run just those tests once
# more with stock and that column, in the same order, and let that retry
# decide: the run fails unless the column passes them this time. (Stock
# failing them too on the retry clears nothing: the column must pass.)
# More than 10 tests is no flake (a crash, say), and the retry would cost
# another whole run: then no retry. Exit 3 (fewer passes than the floor) and
# 2 (stock passed nothing) are never retried.
floor="$(grep -v '^#' "$CONF_DIR/floor" | head -n1)"
[ -z "${CONFORMANCE_RUN:-}" ] || floor=0 # a narrowed run sees less on purpose
rm -f "$LOGS"/*-retry.log "$LOGS"/regressed-*.txt # an earlier run's
: >"$LOGS/table.md"
rc=0 notes=""
for col in $CONFORMANCE_COLUMNS; do
	ct0=$SECONDS
	"$CONF_DIR/suite.sh" "$col" "$OCI/$col.tar"
	ct1=$SECONDS
	printf '\n## stock vs %s\n\n' "$col" | tee -a "$LOGS/table.md"
	set +e
	COLUMN="$col" FLOOR="$floor" "$CONF_DIR/compare.sh" "$LOGS/stock.log" "$LOGS/$col.log" "$LOGS/regressed-$col.txt" |
		tee -a "$LOGS/table.md"
	crc=${PIPESTATUS[0]}
	set -e
	retry=""
	if [ "$crc" = 1 ]; then
		mapfile -t again <"$LOGS/regressed-$col.txt"
		if [ ${#again[@]} -le 10 ]; then
			retry="${again[*]}"
			printf '\n### Retry\n\nRETRY: %s did not pass %d test(s) that stock passed: %s.\nRunning just those again with both frontends; the retry decides.\n\n' \
				"$col" ${#again[@]} "$retry" | tee -a "$LOGS/table.md"
			pattern="^($(IFS='|'; echo "${again[*]}"))\$"
			CONFORMANCE_RUN="$pattern" "$CONF_DIR/suite.sh" stock-retry "$OCI/stock.tar"
			CONFORMANCE_RUN="$pattern" "$CONF_DIR/suite.sh" "$col-retry" "$OCI/$col.tar"
			set +e
			COLUMN="$col" "$CONF_DIR/compare.sh" "$LOGS/stock-retry.log" "$LOGS/$col-retry.log" | tee -a "$LOGS/table.md"
			crc=${PIPESTATUS[0]}
			set -e
			# Whether stock passed them on the retry or not, the column must.
			if [ "$crc" != 1 ] && ! all_pass "$LOGS/$col-retry.log" "${again[@]}"; then crc=1; fi
			case "$crc" in
			0 | 2) outcome="$col passed them this time (a flake): OK" crc=0 ;;
			*) outcome="$col again did not pass them: FAIL" crc=1 ;;
			esac
			printf '\nRETRY OUTCOME: %s.\n' "$outcome" | tee -a "$LOGS/table.md"
		else
			printf '\nNo retry: %d tests differ, too many for a flake.\n' ${#again[@]} | tee -a "$LOGS/table.md"
		fi
	fi
	[ "$crc" = 0 ] || rc=1
	notes="$notes, $col $((ct1 - ct0))${retry:+ + retry $((SECONDS - ct1))}$([ "$crc" = 0 ] || echo " FAILED")"
done
t5=$SECONDS
printf '\nautocache %s; wall time: %d s (setup %d, images %d, suite %s %d%s); logs in %s\n' \
	"$rev" $((t5 - t0)) $((t1 - t0)) $((t2 - t1)) "$stock_how" $((t3 - t2)) "$notes" "$LOGS"
phase_time conformance $((t5 - t2)) "$stock_how $((t3 - t2))$notes"
exit "$rc"
