package pkgmgr

import "testing"

var npmRoot = []string{"/root/.npm shared 0:0"}

func TestNpm(t *testing.T) { runCases(t, npmCases) }

func init() { registerCases("npm", npmCases) }

var npmCases = []tcase{{
	name: "npm ci", in: "npm ci", env: nodeEnv, cwd: "/app", caches: npmRoot,
	notes: []string{"npm: cache /root/.npm (shared)"},
}, {
	name: "distroless node-express", in: "npm install --omit=dev", env: nodeEnv, cwd: "/app", caches: npmRoot,
}, {
	name: "ghost: global install then cache clean",
	in:   "set -eux; \tcorepack enable; \tnpm install -g \"ghost-cli@$GHOST_CLI_VERSION\"; \tnpm cache clean --force",
	env:  append([]string{"GHOST_CLI_VERSION=1.29.3"}, nodeEnv...),
	out:  "set -eux; \tcorepack enable; \tnpm install -g \"ghost-cli@$GHOST_CLI_VERSION\"; \ttrue", caches: npmRoot,
	notes: []string{"npm: removed `npm cache clean --force`"},
}, {
	name: "ghost: gosu node cache clean without an npm download is left",
	in:   "gosu node ghost install 6.0 --dir /var/lib/ghost; gosu node npm cache clean --force; npm cache clean --force", env: nodeEnv,
	none: true,
}, {
	name: "umami: npm install -g pnpm", in: "npm install -g pnpm", env: nodeEnv, caches: npmRoot,
}, {
	name: "npm run build", in: "npm run build && npm test", env: nodeEnv, none: true,
}, {
	name: "npm --version and echo", in: `npm --version && echo "npm ci"`, env: nodeEnv, none: true,
}, {
	name: "yarn is not npm", in: "yarn install --frozen-lockfile && yarn cache clean", env: nodeEnv,
	notes: []string{"yarn: skipped /usr/local/share/.cache/yarn: `yarn cache clean` may be Yarn 2+'s"},
}, {
	name: "ci, build, prune", in: "npm ci && npm run build && npm prune --omit=dev", env: nodeEnv, caches: npmRoot,
}, {
	name: "aliases: i, install-test, isntall, npm x, npx",
	in:   "npm i && npm install-test && npm isntall left-pad && npm x -- cowsay hi && npx --yes prisma generate", env: nodeEnv,
	caches: npmRoot,
}, {
	name: "flags before the subcommand", in: "npm --prefix /app --loglevel warn install", env: nodeEnv, caches: npmRoot,
}, {
	name: "--cache flag", in: "npm ci --cache /tmp/.npm --prefer-offline", env: nodeEnv,
	caches: []string{"/tmp/.npm shared 0:0"},
}, {
	name: "relative --cache", in: "npm ci --cache .npm --prefer-offline", env: nodeEnv, cwd: "/app",
	notes: []string{"npm: skipped: --cache .npm is not an absolute path"},
}, {
	name: "NPM_CONFIG_CACHE in ENV", in: "npm ci", env: append([]string{"NPM_CONFIG_CACHE=/npm-cache"}, nodeEnv...),
	caches: []string{"/npm-cache shared 0:0"},
}, {
	name: "npm_config_cache inline", in: "npm_config_cache=/tmp/npm npm ci", env: nodeEnv,
	caches: []string{"/tmp/npm shared 0:0"},
}, {
	name: "USER node", in: "npm ci", user: "node", env: nodeEnv,
	notes: []string{"npm: skipped: user node not resolved yet"},
}, {
	name: "gosu node npm ci", in: "gosu node npm ci", env: nodeEnv,
	notes: []string{"npm: skipped: user node not resolved yet"},
}, {
	name: "numeric user with HOME", in: "npm ci", user: "1000:1000", env: append([]string{"HOME=/home/node"}, nodeEnv...),
	caches: []string{"/home/node/.npm shared 1000:1000"},
}, {
	name: "numeric user without HOME", in: "npm ci", user: "1000", env: nodeEnv,
	notes: []string{"npm: skipped: home of user 1000 unknown"},
}, {
	name: "rm of the npm cache and /tmp", in: "npm ci && rm -rf ~/.npm /tmp/*", env: nodeEnv,
	out: "npm ci && rm -rf /tmp/*", caches: npmRoot,
}, {
	name: "rm of _cacache under the cache", in: "npm ci && rm -rf /root/.npm/_cacache", env: nodeEnv,
	out: "npm ci && true", caches: npmRoot,
}, {
	name: "rm of /root/.npm* also removes .npmrc: can't drop it, so no mount",
	in:   "npm ci && rm -rf /root/.npm*", env: nodeEnv,
	notes: []string{"skipped /root/.npm: `rm -rf /root/.npm*` would remove the mountpoint"},
}, {
	name: "rm -rf /root/* would remove the mountpoint", in: "npm ci && rm -rf /root/*", env: nodeEnv,
	notes: []string{"skipped /root/.npm: `rm -rf /root/*` would remove the mountpoint"},
}, {
	name: "user cache mount", in: "npm ci", env: nodeEnv, mounts: []string{"/root/.npm"},
	notes: []string{"skipped /root/.npm: the step already mounts /root/.npm"},
}, {
	name: "relative rm resolved against cwd", in: "npm ci && rm -rf .npm", env: nodeEnv, cwd: "/root",
	out: "npm ci && true", caches: npmRoot,
}, {
	name: "cd changes what relative rm means", in: "npm ci && cd /app && rm -rf .npm", env: nodeEnv, cwd: "/root",
	caches: npmRoot,
}, {
	name: "subshell and pipeline", in: "(cd /app && npm ci 2>&1 | tee /tmp/npm.log) && (npm cache clean --force)", env: nodeEnv,
	out: "(cd /app && npm ci 2>&1 | tee /tmp/npm.log) && (true)", caches: npmRoot,
}, {
	name: "command substitution and if", in: `if [ -f package-lock.json ]; then npm ci; else npm install; fi; echo "$(npm --version)"`,
	env: nodeEnv, caches: npmRoot,
}}
