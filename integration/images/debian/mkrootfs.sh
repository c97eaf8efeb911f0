#!/usr/bin/env bash
# mkrootfs.sh OUT.tar: build the root filesystem of our offline
# `debian:bookworm-slim` (or DEBIAN_SUITE's, for DEBIAN_ARCH) as a tar, the way the official image is made
# (debuerreotype), but from plain debootstrap on the host:
#
#   debootstrap --variant=minbase --include=ca-certificates bookworm
#   + debuerreotype-minimizing-config: policy-rc.d, docker-apt-speedup and the
#     four /etc/apt/apt.conf.d/docker-* files, copied byte for byte from ./rootfs
#     (taken from debuerreotype 0.17 / master, scripts/debuerreotype-minimizing-config)
#   + debuerreotype-slimify: /etc/dpkg/dpkg.cfg.d/docker (path-exclude for docs,
#     man pages, locales...) and the matching files removed
#   + deb822 /etc/apt/sources.list.d/debian.sources (no /etc/apt/sources.list)
#   + debuerreotype-fixup / .tar-exclude: empty machine-id, no logs, no apt lists
#
# ca-certificates is not in the official debian image; we include it so the
# image layer on top can bake in the host's extra CA (HTTPS through the egress
# proxy). Needs root. Takes 30-60 s and writes nothing outside OUT's folder
# and $TMPDIR.
set -euo pipefail

out="${1:?usage: mkrootfs.sh OUT.tar}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
suite="${DEBIAN_SUITE:-bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Another architecture than the host's needs its binaries to run here (the
# chroot steps below): up.sh registers qemu-user with binfmt_misc first.
arch="${DEBIAN_ARCH:-$(dpkg --print-architecture)}"

work="$(mktemp -d "${TMPDIR:-/tmp}/mkrootfs.XXXXXX")"
root="$work/root"
cleanup() {
	# debootstrap mounts /proc and /sys in the target; make sure nothing stays
	# mounted if it was interrupted, then remove the work folder.
	local m
	awk -v r="$root/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

echo "debootstrap --variant=minbase --arch=$arch $suite from $mirror" >&2
debootstrap --variant=minbase --arch="$arch" --include=ca-certificates "$suite" "$root" "$mirror" >&2

# --- debuerreotype-minimizing-config (exact files) ---
cp -a "$here/rootfs/." "$root/"
for f in etc/apt/apt.conf.d/docker-autoremove-suggests etc/apt/apt.conf.d/docker-clean \
	etc/apt/apt.conf.d/docker-gzip-indexes etc/apt/apt.conf.d/docker-no-languages \
	etc/dpkg/dpkg.cfg.d/docker-apt-speedup; do
	chown 0:0 "$root/$f"; chmod 0644 "$root/$f"
done
chown 0:0 "$root/usr/sbin/policy-rc.d"; chmod 0755 "$root/usr/sbin/policy-rc.d"

# --- debuerreotype-init / fixup: no host details in the image ---
echo 'debuerreotype' >"$root/etc/hostname"
printf '%s\n' '# https://1.1.1.1 (privacy-focused, highly-available DNS service)' \
	'nameserver 1.1.1.1' 'nameserver 1.0.0.1' >"$root/etc/resolv.conf"
chmod 0644 "$root/etc/hostname" "$root/etc/resolv.conf"
chown 0:0 "$root"; chmod 0755 "$root"
if [ -s "$root/etc/machine-id" ]; then : >"$root/etc/machine-id"; fi

# --- sources: deb822 like the official images ---
snap="$(date -u +%Y%m%d)T000000Z"
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
# http://snapshot.debian.org/archive/debian/$snap
URIs: http://deb.debian.org/debian
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/$snap
URIs: http://deb.debian.org/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
chmod 0644 "$root/etc/apt/sources.list.d/debian.sources"

# --- debuerreotype-slimify ---
excludes=(/usr/share/doc/'*' /usr/share/groff/'*' /usr/share/info/'*' /usr/share/linda/'*'
	/usr/share/lintian/overrides/'*' /usr/share/locale/'*' /usr/share/man/'*')
includes=(/usr/share/doc/'*'/copyright /usr/share/doc/kde/HTML/C/'*' /usr/share/gnome/help/'*'/C/'*'
	/usr/share/locale/all_languages /usr/share/locale/currency/'*' /usr/share/locale/l10n/'*'
	/usr/share/locale/languages /usr/share/locale/locale.alias /usr/share/omf/'*'/'*'-C.emf)
cfg="$root/etc/dpkg/dpkg.cfg.d/docker"
{
	echo '# This is the "slim" variant of the Debian base image.'
	echo '# Many files which are normally unnecessary in containers are excluded,'
	echo '# and this configuration file keeps them that way.'
} >"$cfg"
match_includes=('(')
for inc in "${includes[@]}"; do
	[ "${#match_includes[@]}" -eq 1 ] || match_includes+=(-o)
	match_includes+=(-path "$inc")
done
match_includes+=(')')
for exc in "${excludes[@]}"; do
	{
		echo
		echo "# dpkg -S '$exc'"
		if o="$(chroot "$root" dpkg -S "$exc" 2>&1)"; then
			echo "$o" | sed 's/: .*//g; s/, /\n/g' | sort -u | xargs
		else
			echo "$o"
		fi | fold -w 76 -s | sed 's/^/#  /'
		echo "path-exclude $exc"
	} >>"$cfg"
	d="$(dirname "$exc")"
	[ -d "$root$d" ] || continue
	chroot "$root" find "$d" -depth -mindepth 1 -not "${match_includes[@]}" \
		-not \( -type d -o -type l \) -exec rm -f '{}' ';'
	while [ "$(chroot "$root" find "$d" -depth -mindepth 1 \( -empty -o -xtype l \) \
		-exec rm -rf '{}' ';' -printf '.' | wc -c)" -gt 0 ]; do :; done
done
{
	echo
	for inc in "${includes[@]}"; do echo "path-include $inc"; done
} >>"$cfg"
chmod 0644 "$cfg"

# --- what debuerreotype-fixup and .tar-exclude leave out ---
rm -f "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
	"$root"/var/lib/apt/lists/*Packages* "$root"/var/lib/apt/lists/*Release* \
	"$root"/var/log/dpkg.log "$root"/var/log/bootstrap.log "$root"/var/log/alternatives.log \
	"$root"/var/log/apt/history.log "$root"/var/log/apt/term.log \
	"$root"/var/cache/ldconfig/aux-cache "$root"/etc/apt/apt.conf.d/01autoremove-kernels \
	"$root"/var/lib/systemd/catalog/database "$root"/run/mount/utab
rmdir "$root/run/mount" 2>/dev/null || true

# --- tar: numeric owners (ADD keeps them), no /dev, /proc, /sys contents ---
tar --numeric-owner --xattrs -C "$root" \
	--exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
	-cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "rootfs: $out ($(du -h "$out" | cut -f1))" >&2
