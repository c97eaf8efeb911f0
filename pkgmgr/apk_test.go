package pkgmgr

import "testing"

var (
	apkCache1 = []string{"/etc/apk/cache locked 0:0"}
	// alpine:3.23 image
	alpineEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
)

// Shapes from the corpus (docker-library, buildx, traefik, awesome-compose,
// hugo, openstatus) and Alpine's docs.
func TestApk(t *testing.T) { runCases(t, apkCases) }

func init() { registerCases("apk", apkCases) }

var apkCases = []tcase{{
	name: "docker-library: apk add --no-cache keeps the index fresh via --update-cache",
	in:   "apk add --no-cache ca-certificates curl git libcap", env: alpineEnv,
	out:    "apk add --update-cache ca-certificates curl git libcap",
	caches: apkCache1,
	notes:  []string{"apk: cache /etc/apk/cache (locked)", "apk: replaced --no-cache by --update-cache in `apk add --no-cache"},
}, {
	name: "traefik: global flag before the applet",
	in:   "apk --no-cache --no-progress add     ca-certificates     curl     tini", env: alpineEnv,
	out:    "apk --update-cache --no-progress add     ca-certificates     curl     tini",
	caches: apkCache1,
}, {
	name: "awesome-compose heredoc: update then add without flags gets -U",
	in:   "apk update\napk add git\n", env: alpineEnv,
	out:    "apk update\napk -U add git\n",
	caches: apkCache1, notes: []string{"apk: added -U to `apk add git` (fresh indexes)"},
}, {
	name: "--update --no-cache: already fresh, --no-cache just goes",
	in:   "apk add --update --no-cache git openssh", env: alpineEnv,
	out: "apk add --update git openssh", caches: apkCache1,
	notes: []string{"apk: dropped --no-cache from `apk add --update --no-cache git openssh`"},
}, {
	name: "-U cluster and --no-cache", in: "apk -qU add --no-cache bash", env: alpineEnv,
	out: "apk -qU add bash", caches: apkCache1,
}, {
	name: "build deps removed in the same step (python alpine shape)",
	in: "set -eux; apk add --no-cache --virtual .build-deps gcc musl-dev libffi-dev; pip install --no-cache-dir cffi; " +
		"apk del --no-network .build-deps",
	env: pythonEnv,
	out: "set -eux; apk add --update-cache --virtual .build-deps gcc musl-dev libffi-dev; pip install cffi; " +
		"apk del --no-network .build-deps",
	caches: []string{"/etc/apk/cache locked 0:0", "/root/.cache/pip shared 0:0", "/root/.cache/pip/wheels shared 0:0 per-image"},
}, {
	name: "rm of /var/cache/apk stays: that is not the cache we mount",
	in:   "apk add --update curl && rm -rf /var/cache/apk/*", env: alpineEnv,
	caches: apkCache1,
}, {
	name: "apk cache clean goes", in: "apk add -U py3-pip && apk cache clean", env: alpineEnv,
	out: "apk add -U py3-pip && true", caches: apkCache1, notes: []string{"apk: removed `apk cache clean`"},
}, {
	name: "rm -rf /etc/apk/cache/* goes", in: "apk add --no-cache curl && rm -rf /etc/apk/cache/*", env: alpineEnv,
	out: "apk add --update-cache curl && true", caches: apkCache1,
}, {
	name: "exec form: --no-cache element replaced", argv: []string{"apk", "add", "--no-cache", "curl"}, env: alpineEnv,
	outArgv: []string{"apk", "add", "--update-cache", "curl"}, caches: apkCache1,
}, {
	name: "exec form without --no-cache: -U can't be added, no cache", argv: []string{"apk", "add", "curl"}, env: alpineEnv,
	notes: []string{"skipped /etc/apk/cache: can't add -U (fresh indexes) to `apk add curl`"},
}, {
	name: "user's own cache mount", in: "apk add --no-cache curl", env: alpineEnv, mounts: []string{"/etc/apk/cache"},
	notes: []string{"skipped /etc/apk/cache: the step already mounts /etc/apk/cache"},
}, {
	name: "xx-apk in the step: left alone (it links a sysroot cache into /etc/apk/cache)",
	in:   "apk add --no-cache clang lld && xx-apk add --no-cache musl-dev gcc", env: alpineEnv,
	notes: []string{"skipped /etc/apk/cache: `xx-apk add --no-cache musl-dev gcc` (xx-apk) sets up its sysroot"},
}, {
	name: "apk search reads indexes the mount would replace",
	in:   "apk add --no-cache jq && apk search -x nodejs", env: alpineEnv,
	notes: []string{"skipped /etc/apk/cache: `apk search -x nodejs` reads the indexes"},
}, {
	name: "non-root user without sudo", in: "apk add --no-cache curl", user: "1000", env: alpineEnv,
	notes: []string{"apk: skipped: `apk add --no-cache curl` runs as user 1000"},
}, {
	name: "apk add inside a double-quoted string with $: --no-cache kept",
	in:   `sh -c "apk add --no-cache $PKGS"`, env: alpineEnv, caches: apkCache1,
	notes: []string{"kept --no-cache in `apk add --no-cache $PKGS` (inside a string it can't edit)"},
}, {
	name: "another root: none", in: "apk --root /rootfs --initdb --no-cache add busybox", env: alpineEnv, none: true,
}, {
	name: "--root after the applet", in: "apk add --no-cache --root /sysroot musl-dev", env: alpineEnv, none: true,
}, {
	name: "apk del and --print-arch: none", in: `apkArch="$(apk --print-arch)"; apk del --no-network .fetch-deps`,
	env: alpineEnv, none: true,
}, {
	name: "apk update alone: none", in: "apk update", env: alpineEnv, none: true,
}, {
	name: "apk add --no-network: nothing to download", in: "apk add --no-network --virtual .rundeps $runDeps",
	env: alpineEnv, none: true,
}, {
	name: "openstatus: update, upgrade --available",
	in:   "apk update && apk upgrade --available && update-ca-certificates", env: alpineEnv,
	out: "apk update && apk -U upgrade --available && update-ca-certificates", caches: apkCache1,
}}
