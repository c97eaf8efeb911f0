package pkgmgr

import "testing"

var pnpmRoot = []string{"/root/.local/share/pnpm/store shared 0:0"}

// pnpm.io/docker's image setup.
var pnpmEnv = withEnv(nodeEnv, "PNPM_HOME=/pnpm", "PATH=/pnpm:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")

// Shapes from the corpus (umami, openstatus, ghost, redash) and pnpm.io/docker.
func TestPnpm(t *testing.T) { runCases(t, pnpmCases) }

func init() { registerCases("pnpm", pnpmCases) }

var pnpmCases = []tcase{{
	name: "pnpm.io/docker: PNPM_HOME=/pnpm", in: "pnpm install --prod --frozen-lockfile", env: pnpmEnv, cwd: "/app",
	caches: []string{"/pnpm/store shared 0:0"}, notes: []string{"pnpm: cache /pnpm/store (shared)"},
}, {
	name: "corepack, default store", in: "corepack enable && pnpm install --frozen-lockfile", env: nodeEnv, caches: pnpmRoot,
}, {
	name: "fetch then offline install", in: "pnpm fetch --prod && pnpm install -r --offline --prod", env: pnpmEnv,
	caches: []string{"/pnpm/store shared 0:0"},
}, {
	name: "store prune goes", in: "pnpm install --frozen-lockfile && pnpm store prune", env: nodeEnv,
	out: "pnpm install --frozen-lockfile && true", caches: pnpmRoot, notes: []string{"pnpm: removed `pnpm store prune`"},
}, {
	name: "--store-dir", in: "pnpm install --store-dir /cache/pnpm --frozen-lockfile", env: nodeEnv,
	caches: []string{"/cache/pnpm shared 0:0"},
}, {
	name: "npm_config_store_dir", in: "pnpm i", env: withEnv(nodeEnv, "npm_config_store_dir=/pnpm-store"),
	caches: []string{"/pnpm-store shared 0:0"},
}, {
	name: "umami: npm installs pnpm, pnpm installs", in: "npm install -g pnpm && pnpm install --frozen-lockfile", env: nodeEnv,
	caches: []string{"/root/.local/share/pnpm/store shared 0:0", "/root/.npm shared 0:0"},
}, {
	name: "corepack pnpm", in: "corepack pnpm install", env: nodeEnv, caches: pnpmRoot,
}, {
	name: "openstatus: the user mounts the store", in: "pnpm install --frozen-lockfile", env: nodeEnv,
	mounts: []string{"/root/.local/share/pnpm/store"},
	notes:  []string{"skipped /root/.local/share/pnpm/store: the step already mounts"},
}, {
	name: "global virtual store links node_modules into the store", in: "pnpm install",
	env:   withEnv(nodeEnv, "npm_config_enable_global_virtual_store=true"),
	notes: []string{"pnpm: skipped: the global virtual store"},
}, {
	name: "ghost: gosu node pnpm store prune alone", in: "gosu node pnpm store prune", env: nodeEnv, none: true,
}, {
	name: "build and run: none", in: "pnpm --version && pnpm run build && pnpm build", env: nodeEnv, none: true,
}}
