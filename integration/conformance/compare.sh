#!/usr/bin/env bash
# compare.sh STOCK_LOG AUTOCACHE_LOG: read two `go test -v` outputs of the
# suite and print, as markdown tables:
#   - pass/fail/skip counts per frontend, for the suite's entries (one per
#     test function and matrix value, e.g. TestCopy or
#     TestRunSecurityInsecure with security.insecure=granted) and, in a
#     second row, for the nested subtests inside them;
#   - every entry or subtest whose result differs between the two runs;
#   - the entries that fail in both runs (the environment's failures), and
#     those of them whose first error message differs (informational).
# Exit status: 1 if autocache did not pass something stock passed (a fail,
# a skip, or no result at all, e.g. after a crash), else 0.
set -euo pipefail
stock="${1:?usage: compare.sh STOCK_LOG AUTOCACHE_LOG}"
auto="${2:?usage: compare.sh STOCK_LOG AUTOCACHE_LOG}"

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
# Failure messages: testify prints "Error:" (the message on that line, or on
# the next one after "Received unexpected error:"), then "Test: <name>".
# Runs of 4+ digits (ports, pids, years) are blanked: they vary between runs.
function norm(m) { gsub(/[0-9][0-9][0-9][0-9]+/, "N", m); sub(/[ \t]+$/, "", m); return m }
FNR == 1 { f++; pending = ""; want_next = 0 }
want_next { m = $0; sub(/^[ \t]+/, "", m); pending = pending norm(m) " / "; want_next = 0 }
/^[ \t]+Error:[ \t]/ {
	m = $0; sub(/^[ \t]+Error:[ \t]+/, "", m)
	if (m ~ /:[ \t]*$/) want_next = 1
	else pending = pending norm(m) " / "
}
/^[ \t]+Test:[ \t]/ {
	m = $0; sub(/^[ \t]+Test:[ \t]+/, "", m); sub(/[ \t]+$/, "", m)
	if (pending != "" && !((f, m) in err)) err[f, m] = pending
	pending = ""
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
	printf "| results | stock | autocache |\n|---|---|---|\n"
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
		if (val[1, n] == "PASS") bad++
	}
	# sort the names (insertion sort: a few hundred at most)
	for (i = 2; i <= nd; i++) { x = d[i]; for (j = i - 1; j >= 1 && d[j] > x; j--) d[j + 1] = d[j]; d[j + 1] = x }
	printf "\n### Differences (%d)\n\n", nd
	if (nd == 0) printf "None: every entry and subtest has the same result with both frontends.\n"
	else {
		printf "| test | stock | autocache |\n|---|---|---|\n"
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
		printf "| test | stock error | autocache error |\n|---|---|---|\n"
		for (i = 1; i <= nm2; i++) {
			a = err[1, dm[i]]; b = err[2, dm[i]]; sub(/ \/ $/, "", a); sub(/ \/ $/, "", b)
			gsub(/\|/, "\\|", a); gsub(/\|/, "\\|", b)
			printf "| %s | `%s` | `%s` |\n", short(dm[i]), a, b
		}
	}
	if (bad > 0) {
		printf "\nREGRESSION: autocache does not pass %d test(s) that stock passes.\n", bad
		exit 1
	}
	if (cnt[1, "e", "PASS"] == 0) { printf "\nERROR: stock passed nothing: the harness is broken.\n"; exit 1 }
	printf "\nOK: autocache passes every test that stock passes.\n"
}
' "$stock" "$auto"
