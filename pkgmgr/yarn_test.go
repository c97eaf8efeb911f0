package pkgmgr

import "testing"

var yarn1Root = []string{"/usr/local/share/.cache/yarn locked 0:0"}

// Shapes from the corpus (awesome-compose vuejs, excalidraw, mastodon,
// mealie, traefik webui) and node Dockerfiles.
func TestYarn(t *testing.T) { runCases(t, yarnCases) }

func init() { registerCases("yarn", yarnCases) }

var yarnCases = []tcase{{
	name: "node image: yarn install --frozen-lockfile", in: "yarn install --frozen-lockfile", env: nodeEnv, cwd: "/app",
	caches: yarn1Root, notes: []string{"yarn: cache /usr/local/share/.cache/yarn (locked)"},
}, {
	name: "Yarn 1 for sure (--network-timeout): cache clean goes",
	in:   "yarn install --frozen-lockfile --network-timeout 100000 && yarn cache clean", env: nodeEnv,
	out: "yarn install --frozen-lockfile --network-timeout 100000 && true", caches: yarn1Root,
	notes: []string{"yarn: removed `yarn cache clean`"},
}, {
	name: "--production is Yarn 1 only", in: "yarn install --production && yarn cache clean --force", env: nodeEnv,
	out: "yarn install --production && true", caches: yarn1Root,
}, {
	name: "maybe Yarn 2+: cache clean stays and the Yarn 1 cache is not mounted",
	in:   "yarn install --immutable && yarn cache clean", env: nodeEnv,
	notes: []string{"skipped /usr/local/share/.cache/yarn: `yarn cache clean` may be Yarn 2+'s"},
}, {
	name: "bare yarn installs; build doesn't", in: "yarn --frozen-lockfile && yarn build", env: nodeEnv, caches: yarn1Root,
}, {
	name: "YARN_CACHE_FOLDER without proof of Yarn 1: could be berry's PnP cache",
	in:   "yarn install", env: withEnv(nodeEnv, "YARN_CACHE_FOLDER=/usr/src/.yarn-cache"),
	notes: []string{"yarn: skipped: YARN_CACHE_FOLDER may be Yarn 2+'s cacheFolder"},
}, {
	name: "YARN_CACHE_FOLDER with --pure-lockfile", in: "yarn install --pure-lockfile",
	env: withEnv(nodeEnv, "YARN_CACHE_FOLDER=/usr/src/.yarn-cache"), caches: []string{"/usr/src/.yarn-cache locked 0:0"},
}, {
	name: "berry with the node-modules linker: its global cache too",
	in:   "corepack enable && yarn install --immutable", env: withEnv(nodeEnv, "YARN_NODE_LINKER=node-modules"),
	caches: []string{"/root/.yarn/berry/cache locked 0:0", "/usr/local/share/.cache/yarn locked 0:0"},
}, {
	name: "berry with PnP (no linker setting): only the Yarn 1 path, never ~/.yarn/berry or .yarn/cache",
	in:   "corepack enable && yarn workspaces focus --production", env: nodeEnv, caches: yarn1Root,
}, {
	name: "yarn global add (Yarn 1)", in: "yarn global add pm2 && yarn cache clean", env: nodeEnv,
	out: "yarn global add pm2 && true", caches: yarn1Root,
}, {
	name: "--pnp: packages load from the cache", in: "yarn install --pnp", env: nodeEnv,
	notes: []string{"yarn: skipped: `yarn install --pnp` uses Plug'n'Play"},
}, {
	name: "numeric user with HOME: ~/.cache/yarn", in: "yarn install", user: "1000:1000", env: withEnv(nodeEnv, "HOME=/home/node"),
	caches: []string{"/home/node/.cache/yarn locked 1000:1000"},
}, {
	name: "XDG_CACHE_HOME", in: "yarn", env: withEnv(nodeEnv, "XDG_CACHE_HOME=/cache"), caches: []string{"/cache/yarn locked 0:0"},
}, {
	name: "USER node", in: "yarn install", user: "node", env: nodeEnv, notes: []string{"yarn: skipped: user node not resolved yet"},
}, {
	name: "run, build, version: none", in: "yarn --version && yarn run build && yarn test", env: nodeEnv, none: true,
}}
