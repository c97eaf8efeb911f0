#!/usr/bin/env bash
# e2e.sh [GO TEST ARGS...]: the end-to-end tests on the engine up.sh started
# (make e2e runs this through with-engine.sh). The `go test -v` output is
# also kept in $CACHE/log/e2e.log; afterwards the ten slowest tests are
# printed, and the run's time is noted as the phase `e2e` (phases.sh).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdirs
cd "$REPO"
out="$LOG/e2e.log"
start=$SECONDS
set +e
"${GO:-go}" test -tags e2e -count=1 -timeout 60m -v ./integration/ "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
phase_time e2e $((SECONDS - start)) "$([ "$rc" = 0 ] || echo "failed: exit $rc")"
echo
echo "The ten slowest end-to-end tests:"
sed -n 's/^--- \(PASS\|FAIL\|SKIP\): \(Test[^ ]*\) (\([0-9.]*\)s)$/\3 \1 \2/p' "$out" |
	sort -rn | head -n 10 | awk '{ printf "  %8.1f s  %s  %s\n", $1, $2, $3 }'
exit "$rc"
