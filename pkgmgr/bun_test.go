package pkgmgr

import "testing"

var (
	bunRoot = []string{"/root/.bun/install/cache locked 0:0"}
	// oven/bun image
	bunEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "BUN_RUNTIME_TRANSPILER_CACHE_PATH=0",
		"BUN_INSTALL_BIN=/usr/local/bin"}
)

// Shapes from the corpus (typebot, TechEmpower bun frameworks) and bun's
// Docker guide.
func TestBun(t *testing.T) { runCases(t, bunCases) }

func init() { registerCases("bun", bunCases) }

var bunCases = []tcase{{
	name: "bun guide: frozen lockfile", in: "bun install --frozen-lockfile", env: bunEnv, cwd: "/usr/src/app",
	caches: bunRoot, notes: []string{"bun: cache /root/.bun/install/cache (locked)"},
}, {
	name: "--production --no-cache", in: "bun install --production --no-cache", env: bunEnv,
	out: "bun install --production", caches: bunRoot,
}, {
	name: "TechEmpower: bun ci", in: "bun ci", env: bunEnv, caches: bunRoot,
}, {
	name: "BUN_INSTALL_CACHE_DIR", in: "bun install", env: withEnv(bunEnv, "BUN_INSTALL_CACHE_DIR=/cache/bun"),
	caches: []string{"/cache/bun locked 0:0"},
}, {
	name: "BUN_INSTALL", in: "bun install", env: withEnv(bunEnv, "BUN_INSTALL=/usr/local"),
	caches: []string{"/usr/local/install/cache locked 0:0"},
}, {
	name: "bunx", in: "bunx prisma generate", env: bunEnv, caches: bunRoot,
}, {
	name: "bunx: the tool's own --no-cache stays", in: "bunx --bun some-cli --no-cache", env: bunEnv, caches: bunRoot,
}, {
	name: "pm cache rm goes", in: "bun install && bun pm cache rm", env: bunEnv, out: "bun install && true", caches: bunRoot,
}, {
	name: "--backend symlink links into the cache", in: "bun install --backend symlink", env: bunEnv,
	notes: []string{"skipped /root/.bun/install/cache: `bun install --backend symlink` links packages from the cache"},
}, {
	name: "typebot: the user mounts the cache", in: "bun install", env: bunEnv, mounts: []string{"/root/.bun/install/cache"},
	notes: []string{"skipped /root/.bun/install/cache: the step already mounts"},
}, {
	name: "build and run: none", in: "bun run build && bun build --compile ./src/index.ts --outfile server", env: bunEnv,
	none: true,
}}
