#!/usr/bin/env bash
# compare.sh STOCK_LOG AUTOCACHE_LOG: read two `go test -v` outputs of the
# suite (stock's and one autocache column's: COLUMN names it, default
# autocache) and print, as markdown tables:
#   - pass/fail/skip counts per frontend, for the suite's entries (one per
#     test function and matrix value, e.g. TestCopy or
#     TestRunSecurityInsecure with security.insecure=granted) and, in a
#     second row, for the nested subtests inside them;
#   - every entry or subtest whose result differs between the two runs;
#   - the entries that fail in both runs (the environment's failures), and
#     those whose error messages differ (informational: same verdict, but
#     e.g. a failing rewritten step shows the command that actually ran).
# Exit status: 1 if autocache did not pass something stock passed (a fail,
# a skip, or no result at all, e.g. after a crash); 2 if stock passed
# nothing (the harness is broken); 3 if either log has fewer passing entries
# than FLOOR (the stock pass count of the last full run, checked in as
# integration/conformance/floor: a run that sees fewer is not a comparison
# of the whole suite); else 0. With a third argument, the
# names of the tests behind an exit 1 (the <Test> of
# TestIntegration/<Test>/..., one per line) are written to that file, for
# run.sh's retry.
set -euo pipefail
usage="usage: compare.sh STOCK_LOG AUTOCACHE_LOG [REGRESSED_TESTS_FILE]"
stock="${1:?$usage}"
auto="${2:?$usage}"
regressed="${3:-/dev/null}"
: >"$regressed"

awk '
# Result lines look like "    --- PASS: TestIntegration/TestX/worker=oci/frontend=gateway (1.23s)";
# the name has no spaces (go test replaces them with "_").
function result(line,   m) {
	if (match(line, /^[ \t]*--- (PASS|FAIL|SKIP): [^ ]+/)) {
		m = substr(line, RSTART, RLENGTH); sub(/^[ \t]*--- /, "", m)
		res = substr(m, 1, 4); nm = substr(m, 7)
		return 1
	}
	return 0
}
# An entry is TestIntegration/<Test>/worker=<w> followed only by the
# suite'"'"'s matrix keys; anything longer is a subtest the test itself ran.
function is_entry(n) {
	return n ~ /^TestIntegration\/[^\/]+\/worker=[^\/]+(\/(env|frontend|network\.host|security\.insecure)=[^\/]+)*$/
}
function short(n) { sub(/^TestIntegration\//, "", n); sub(/\/worker=oci/, "", n); sub(/\/frontend=gateway/, "", n); return n }
# Numbers of 4+ digits (ports, pids, years) are blanked: they vary between
# runs. Digit runs glued to letters (hex digests, ids) are kept.
function norm(m,   out, pre, d) {
	out = ""
	while (match(m, /[0-9][0-9][0-9][0-9]+/)) {
		pre = substr(m, 1, RSTART - 1); d = substr(m, RSTART, RLENGTH); m = substr(m, RSTART + RLENGTH)
		if (substr(pre, length(pre)) ~ /[A-Za-z]/ || substr(m, 1, 1) ~ /[A-Za-z]/) out = out pre d
		else out = out pre "N"
	}
	m = out m; sub(/[ \t]+$/, "", m); return m
}
# Failure messages: testify prints "Error:" with the message on that line
# and/or on continuation lines (for "Received unexpected error:" the error,
# then its stack; for "Not equal:" expected, actual and a diff), then
# "Test: <name>". We keep the message lines, not the stack.
FNR == 1 { f++; pending = ""; in_err = 0 }
/^[ \t]+Error:[ \t]/ {
	m = $0; sub(/^[ \t]+Error:[ \t]+/, "", m)
	pending = pending norm(m) " / "; in_err = 1; next
}
/^[ \t]+Test:[ \t]/ {
	m = $0; sub(/^[ \t]+Test:[ \t]+/, "", m); sub(/[ \t]+$/, "", m)
	if (pending != "" && !((f, m) in err)) err[f, m] = pending
	pending = ""; in_err = 0; next
}
in_err && /^[ \t]+\t +\t/ {
	m = $0; sub(/^[ \t]+\t +\t/, "", m)
	# a stack frame: a function name, or a tab-indented file:line
	if (m ~ /^\t/ || m ~ /^[^ ]+\.[^ ]+$/ && m ~ /\//) in_err = 0
	else if (m != "") pending = pending norm(m) " / "
	next
}
/^=== RUN / { n = $3; if (n ~ /^TestIntegration\//) { seen[n] = 1; started[f, n] = 1 } }
{
	if (!result($0) || nm !~ /^TestIntegration\//) next
	seen[nm] = 1; st[f, nm] = res
}
END {
	for (n in seen) {
		lvl = is_entry(n) ? "e" : "n"
		for (i = 1; i <= 2; i++) {
			s = ((i, n) in st) ? st[i, n] : (((i, n) in started) ? "NORESULT" : "")
			val[i, n] = s
			if (s != "") cnt[i, lvl, s]++
			if (s != "") cnt[i, lvl, "all"]++
		}
	}
	printf "| results | stock | %s |\n|---|---|---|\n", col
	split("PASS FAIL SKIP NORESULT", kinds, " ")
	for (k = 1; k <= 4; k++) {
		s = kinds[k]
		if (s == "NORESULT" && !cnt[1, "e", s] && !cnt[2, "e", s] && !cnt[1, "n", s] && !cnt[2, "n", s]) continue
		printf "| %s | %d (%d) | %d (%d) |\n", tolower(s), cnt[1, "e", s], cnt[1, "n", s], cnt[2, "e", s], cnt[2, "n", s]
	}
	printf "| total | %d (%d) | %d (%d) |\n", cnt[1, "e", "all"], cnt[1, "n", "all"], cnt[2, "e", "all"], cnt[2, "n", "all"]
	printf "\nEntries of TestIntegration (worker=oci, frontend=gateway); nested subtests in brackets.\n"

	nd = 0; bad = 0
	for (n in seen) if (val[1, n] != val[2, n]) {
		d[++nd] = n
		if (val[1, n] == "PASS") { bad++; split(n, part, "/"); regressed[part[2]] = 1 }
	}
	for (t in regressed) print t > out
	# sort the names (insertion sort: a few hundred at most)
	for (i = 2; i <= nd; i++) { x = d[i]; for (j = i - 1; j >= 1 && d[j] > x; j--) d[j + 1] = d[j]; d[j + 1] = x }
	printf "\n### Differences (%d)\n\n", nd
	if (nd == 0) printf "None: every entry and subtest has the same result with both frontends.\n"
	else {
		printf "| test | stock | %s |\n|---|---|---|\n", col
		for (i = 1; i <= nd; i++) {
			a = val[1, d[i]]; b = val[2, d[i]]
			printf "| %s%s | %s | %s |\n", short(d[i]), is_entry(d[i]) ? "" : " (subtest)", a == "" ? "not run" : tolower(a), b == "" ? "not run" : tolower(b)
		}
	}
	nb = 0
	for (n in seen) if (is_entry(n) && val[1, n] == "FAIL" && val[2, n] == "FAIL") both[++nb] = n
	for (i = 2; i <= nb; i++) { x = both[i]; for (j = i - 1; j >= 1 && both[j] > x; j--) both[j + 1] = both[j]; both[j + 1] = x }
	printf "\n### Failing with both frontends (%d)\n\n", nb
	for (i = 1; i <= nb; i++) printf "- %s\n", short(both[i])
	# Same result (both fail), but not the same first error: informational,
	# e.g. a rewritten step failing shows the argv that actually ran.
	nm2 = 0
	for (n in seen) if (val[1, n] == "FAIL" && val[2, n] == "FAIL" && err[1, n] != err[2, n]) dm[++nm2] = n
	for (i = 2; i <= nm2; i++) { x = dm[i]; for (j = i - 1; j >= 1 && dm[j] > x; j--) dm[j + 1] = dm[j]; dm[j + 1] = x }
	if (nm2 > 0) {
		printf "\n### Failing with both, with different errors (%d)\n\n", nm2
		printf "| test | stock error | %s error |\n|---|---|---|\n", col
		for (i = 1; i <= nm2; i++) {
			a = err[1, dm[i]]; b = err[2, dm[i]]; sub(/ \/ $/, "", a); sub(/ \/ $/, "", b)
			gsub(/\|/, "\\|", a); gsub(/\|/, "\\|", b)
			printf "| %s | `%s` | `%s` |\n", short(dm[i]), a, b
		}
	}
	if (bad > 0) {
		printf "\nREGRESSION: %s does not pass %d test(s) that stock passes.\n", col, bad
		exit 1
	}
	if (cnt[1, "e", "PASS"] == 0) { printf "\nERROR: stock passed nothing: the harness is broken.\n"; exit 2 }
	if (floor > 0 && (cnt[1, "e", "PASS"] < floor || cnt[2, "e", "PASS"] < floor)) {
		printf "\nBELOW THE FLOOR: stock passed %d entries and %s %d, fewer than the %d of the last full run (integration/conformance/floor): not a run of the whole suite.\n", cnt[1, "e", "PASS"], col, cnt[2, "e", "PASS"], floor
		exit 3
	}
	if (floor > 0 && cnt[1, "e", "PASS"] > floor)
		printf "\nNOTE: stock passed %d entries, more than the floor of %d: raise integration/conformance/floor.\n", cnt[1, "e", "PASS"], floor
	printf "\nOK: %s passes every test that stock passes.\n", col
}
' out="$regressed" col="${COLUMN:-autocache}" floor="${FLOOR:-0}" "$stock" "$auto"
