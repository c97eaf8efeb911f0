#!/usr/bin/env bash
# Phase timings of a CI run: every phase of `make test` and `make conformance`
# (setup, images, unit, e2e, conformance) appends "NAME SECONDS" to the file
# $AUTOCACHE_PHASES names (when it is set: .ci/run sets it), and .ci/run
# prints the table at the end, also when a phase failed.
#
#   . integration/phases.sh; phase_time NAME SECONDS   (from the harness scripts)
#   integration/phases.sh run NAME CMD [ARGS...]       (time CMD as phase NAME)
#   integration/phases.sh table                        (print the table)
#
# A name is a phase, optionally with a detail: "setup engine", "setup conformance".

# phase_time NAME SECONDS [failed]: note a phase.
phase_time() {
	printf '[phase %s] %s: %s s%s\n' "$(date +%H:%M:%S)" "$1" "$2" "${3:+ ($3)}" >&2
	[ -z "${AUTOCACHE_PHASES:-}" ] || printf '%s\t%s\t%s\n' "$1" "$2" "${3:-}" >>"$AUTOCACHE_PHASES"
}

# phase_table: one line per phase, in the order setup, images, unit, e2e,
# conformance, with its seconds and what it is made of; then the total.
phase_table() {
	local f="${AUTOCACHE_PHASES:-}"
	[ -n "$f" ] && [ -s "$f" ] || { echo "no phase timings recorded"; return 0; }
	awk -F'\t' '
		{ split($1, w, " "); p = w[1]; d = substr($1, length(p) + 2)
		  secs[p] += $2; total += $2
		  part = (d ? d " " $2 : "") (($3 != "") ? (d ? " " : "") $3 : "")
		  if (part != "") parts[p] = parts[p] (parts[p] ? ", " : "") part
		  if (!(p in seen)) { seen[p] = 1; order[++n] = p } }
		END {
			print "CI phases (seconds):"
			split("setup images unit e2e conformance", want, " ")
			for (i = 1; i <= 5; i++) { p = want[i]; done[p] = 1
				if (p in secs) printf "  %-12s %6d%s\n", p, secs[p], (parts[p] ? "  (" parts[p] ")" : "")
				else printf "  %-12s %6s\n", p, "-" }
			for (i = 1; i <= n; i++) if (!(order[i] in done))
				printf "  %-12s %6d%s\n", order[i], secs[order[i]], (parts[order[i]] ? "  (" parts[order[i]] ")" : "")
			printf "  %-12s %6d\n", "total", total
		}' "$f"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	case "${1:-}" in
	run)
		[ $# -ge 3 ] || { echo "usage: $0 run NAME CMD [ARGS...]" >&2; exit 2; }
		name="$2"; shift 2
		start=$SECONDS rc=0
		"$@" || rc=$?
		phase_time "$name" $((SECONDS - start)) "$([ "$rc" = 0 ] || echo "failed: exit $rc")"
		exit "$rc"
		;;
	table) phase_table ;;
	*) echo "usage: $0 run NAME CMD [ARGS...] | table" >&2; exit 2 ;;
	esac
fi
