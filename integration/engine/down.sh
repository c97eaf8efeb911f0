#!/usr/bin/env bash
# Stop the embedded engine (idempotent): buildkitd, the pkgserver and the
# registry, each by the PID in its pid file (SIGTERM, then SIGKILL after a
# grace period), and remove the binfmt_misc handler up.sh registered. Then clean up what a buildkitd killed mid-build leaves behind:
# its build containers' processes, mounts under $CACHE, runc state, and the
# folders and cgroups outside $CACHE that up.sh saw appear. Removes pid files
# and sockets; keeps all caches, images and downloads for the next up.sh.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ -d "$RUN_DIR" ] || exit 0

exec 9>"$RUN_DIR/lock"
flock 9

# In parallel: each takes a second or two to exit.
stop_pid buildkitd 15 &
stop_pid pkgserver 10 &
stop_pid docker-registry 10 &
wait
binfmt_down # qemu for arm64: registered by up.sh

# Processes of build containers a killed buildkitd left behind: in their own
# mount namespace, "/" is an overlay whose layers live under $BK_ROOT. Each is
# killed by its PID; nothing is killed by name.
mapfile -t leftovers < <(awk -v r="$BK_ROOT/" '$5 == "/" && index($0, r) { print FILENAME; nextfile }' \
	/proc/[0-9]*/mountinfo 2>/dev/null)
for f in "${leftovers[@]}"; do
	pid="${f#/proc/}" && pid="${pid%/mountinfo}"
	log "killing leftover build container process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null))"
	kill -KILL "$pid" 2>/dev/null || true
done
[ ${#leftovers[@]} -eq 0 ] || sleep 1

# Mounts left under $CACHE (overlay rootfs of interrupted builds, debootstrap's
# /proc and /sys if mkrootfs was killed), deepest first.
mapfile -t mounts < <(awk -v c="$CACHE/" 'index($2, c) == 1 { print $2 }' /proc/self/mounts | sort -r)
for m in "${mounts[@]}"; do
	m="$(printf '%b' "$m")" # /proc/self/mounts escapes spaces as \040
	log "unmounting $m"
	umount "$m" 2>/dev/null || umount -l "$m" || log "WARNING: could not unmount $m"
done

rm -f "$BK_SOCK" "$BK_OTEL_SOCK" "$RUN_DIR"/*.pid

# runc keeps container state in /run/runc/<id>; a killed build leaves its
# folder (and its cgroup, below) behind. Ours name a rootfs under $BK_ROOT in
# their state.json.
stale_ids=()
for st in /run/runc/*/state.json; do
	if [ ! -f "$st" ] || ! grep -qF "\"$BK_ROOT/" "$st"; then continue; fi
	log "removing stale runc state $(dirname "$st")"
	stale_ids+=("$(basename "$(dirname "$st")")")
	rm -rf "$(dirname "$st")"
done
# What runc and mount create outside $CACHE: /run/runc, /run/mount (libmount)
# and the `buildkit` cgroup in each hierarchy (buildkit's cgroup parent).
# Removed only if up.sh saw them appear, and only when empty (rmdir), so
# another buildkitd or mount user on the machine keeps its own.
for d in "${OUTSIDE_DIRS[@]}"; do
	n="$(basename "$d")"
	[ -e "$RUN_DIR/ours-$n" ] || continue
	rmdir "$d" 2>/dev/null || true
	[ -e "$d" ] || rm -f "$RUN_DIR/ours-$n"
done
if [ -e "$RUN_DIR/ours-cgroup" ]; then
	for d in /sys/fs/cgroup/buildkit /sys/fs/cgroup/*/buildkit; do
		[ -d "$d" ] || continue
		for id in "${stale_ids[@]}"; do rmdir "$d/$id" 2>/dev/null || true; done
		rmdir "$d" 2>/dev/null || log "cgroup $d still in use (another buildkitd?): left alone"
	done
	rm -f "$RUN_DIR/ours-cgroup"
fi
rm -f "$RUN_DIR"/preexisting-* # re-checked at the next start
log "engine down"
