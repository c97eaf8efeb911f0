#!/usr/bin/env bash
# suite.sh NAME IMAGE_TAR: run BuildKit's Dockerfile suite (TestIntegration,
# worker=oci, frontend=gateway) against the frontend image in IMAGE_TAR;
# the `go test -v` output goes to $C/logs/NAME.log.
#
# The test binary starts its own buildkitd per test (root under $C/tmp) and a
# registry per integration.Run on $C/mirror, copies IMAGE_TAR into it as
# buildkit_test/<random>:latest and solves every Dockerfile with
# gateway.v0 + source=<that image>. Only FRONTEND_GATEWAY_ONLY differs
# between the stock and the autocache run.
#
# Test failures are the point of the exercise, so this exits 0 whatever the
# suite's exit status; compare.sh judges the results. It fails only when the
# binary produced no results at all.
#
# CONFORMANCE_RUN (default .*) narrows the test names, e.g. 'TestCopy.*'
# (a regexp for the second element of the name; | works, / does not; it is
# parenthesized because go test splits a -run pattern at top-level | too).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdirs
name="${1:?usage: suite.sh NAME IMAGE_TAR}"
image="$(readlink -f "${2:?usage: suite.sh NAME IMAGE_TAR}")" # the suite runs in $RUNS/NAME
[ -s "$image" ] || die "no image at $image (run images.sh)"
[ -x "$BIN/dockerfile.test" ] || die "no test binary (run setup.sh)"

out="$LOGS/$name.log"
# The suite skips its network tests (RUN --network=host/none, default and
# forced network modes) unless BUILDKIT_RUN_NETWORK_INTEGRATION_TESTS is set.
# They only talk to an echo server on 127.0.0.1, so we run them: autocache
# rewrites ExecOps and must keep their network mode. CONFORMANCE_NETWORK=0
# restores the suite's default.
network=1
[ "${CONFORMANCE_NETWORK:-1}" = 0 ] && network=""
# Only the OCI worker (the containerd worker needs a containerd; the suite
# registers it when the binary is on PATH). No frontend= element: with
# FRONTEND_GATEWAY_ONLY set, gateway is the only frontend in the matrix, and
# the element is not always last (TestProvenanceAttestation's entry is
# .../worker=oci/env=simple/frontend=gateway).
filter="TestIntegration/(${CONFORMANCE_RUN:-.*})/worker=oci"
mkdir -p "$RUNS/$name"
log "suite vs $name: $image (-test.run '$filter'), log $out"
start=$SECONDS
set +e
(
	cd "$RUNS/$name"
	# A clean environment for the suite: nothing from an engine shell
	# (BUILDKIT_HOST) or a developer's experiments may change what it runs.
	exec env -u BUILDKIT_HOST -u FRONTEND_BUILTIN_ONLY -u FRONTEND_CLIENT_ONLY \
		-u BUILDKIT_WORKER_RANDOM -u SKIP_INTEGRATION_TESTS -u BUILDKIT_INTEGRATION_SNAPSHOTTER \
		-u TEST_DOCKERD -u BUILDKIT_RUN_NETWORK_INTEGRATION_TESTS -u BUILDKIT_INTEGRATION_ROOTLESS_IDPAIR \
		-u BUILDKIT_TEST_ENABLE_FEATURES -u BUILDKIT_TEST_DISABLE_FEATURES \
		PATH="$PATH" TMPDIR="$TMP" BUILDKIT_REGISTRY_MIRROR_DIR="$MIRROR" \
		FRONTEND_GATEWAY_ONLY="local:$image" \
		${network:+BUILDKIT_RUN_NETWORK_INTEGRATION_TESTS=1} \
		"$BIN/dockerfile.test" -test.run "$filter" -test.v -test.timeout 45m
) >"$out" 2>&1
rc=$?
set -e
log "suite vs $name: exit $rc after $((SECONDS - start)) s"
# A test binary that panics (e.g. a mirror copy failing inside a subtest)
# leaves its buildkitd and registry running: stop whatever is left.
cleanup_leftovers
grep -qE -- '^\s*--- (PASS|FAIL|SKIP): TestIntegration/' "$out" ||
	die "the suite produced no results; last lines of $out:$(echo; tail -n 30 "$out")"
