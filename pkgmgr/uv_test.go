package pkgmgr

import (
	"slices"
	"testing"
)

var uvRoot = []string{"/root/.cache/uv shared 0:0", "/root/.cache/uv/sdists-v9 shared 0:0 per-image"}

func withEnv(env []string, kv ...string) []string { return append(slices.Clone(env), kv...) }

// Shapes from the corpus (astral-sh uv-docker-example, redash, authentik,
// private-gpt) and uv's Docker guide.
func TestUv(t *testing.T) { runCases(t, uvCases) }

func init() { registerCases("uv", uvCases) }

var uvCases = []tcase{{
	name: "uv-docker-example without its mount: sync, copy mode for the step",
	in:   "uv sync --locked --no-install-project --no-dev", env: pythonEnv, cwd: "/app",
	caches: uvRoot, outEnv: withEnv(pythonEnv, "UV_LINK_MODE=copy"),
	notes: []string{"uv: cache /root/.cache/uv (shared)", "uv: set UV_LINK_MODE=copy for the step"},
}, {
	name: "uv pip install --system --no-cache", in: "uv pip install --system --no-cache -r requirements.txt", env: pythonEnv,
	out: "uv pip install --system -r requirements.txt", caches: uvRoot, outEnv: withEnv(pythonEnv, "UV_LINK_MODE=copy"),
	notes: []string{"uv: dropped --no-cache from `uv pip install --system --no-cache -r requirements.txt`"},
}, {
	name: "-n and --no-cache-dir are the same flag", in: "uv -n pip install --no-cache-dir flask", env: pythonEnv,
	out: "uv pip install flask", caches: uvRoot, outEnv: withEnv(pythonEnv, "UV_LINK_MODE=copy"),
}, {
	name: "inline UV_NO_CACHE", in: "UV_NO_CACHE=1 uv sync --frozen", env: pythonEnv,
	out: "uv sync --frozen", caches: uvRoot, outEnv: withEnv(pythonEnv, "UV_LINK_MODE=copy"),
}, {
	name: "ENV UV_NO_CACHE and ENV UV_LINK_MODE=copy (uv's guide)",
	in:   "uv sync --frozen", env: withEnv(pythonEnv, "UV_NO_CACHE=1", "UV_LINK_MODE=copy"),
	caches: uvRoot, outEnv: withEnv(pythonEnv, "UV_LINK_MODE=copy"),
	notes: []string{"uv: removed UV_NO_CACHE from the step's env"},
}, {
	name: "railpack: ENV UV_CACHE_DIR, ENV UV_LINK_MODE=hardlink becomes copy",
	in:   "uv sync --frozen", env: withEnv(pythonEnv, "UV_CACHE_DIR=/opt/uv-cache", "UV_LINK_MODE=hardlink"),
	caches: []string{"/opt/uv-cache shared 0:0", "/opt/uv-cache/sdists-v9 shared 0:0 per-image"}, outEnv: withEnv(pythonEnv, "UV_CACHE_DIR=/opt/uv-cache", "UV_LINK_MODE=copy"),
}, {
	name: "prune --ci goes", in: "uv sync --frozen && uv cache prune --ci", env: pythonEnv,
	out: "uv sync --frozen && true", caches: uvRoot, outEnv: withEnv(pythonEnv, "UV_LINK_MODE=copy"),
	notes: []string{"uv: removed `uv cache prune --ci`"},
}, {
	name: "uvx and uv tool install", in: "uv tool install ruff && uvx --from httpie http --version", env: pythonEnv,
	caches: uvRoot, outEnv: withEnv(pythonEnv, "UV_LINK_MODE=copy"),
}, {
	name: "python -m uv", in: "python3 -m uv pip install --system -r requirements.txt", env: pythonEnv,
	caches: uvRoot, outEnv: withEnv(pythonEnv, "UV_LINK_MODE=copy"),
}, {
	name: "--link-mode symlink would point into the cache", in: "uv sync --link-mode symlink", env: pythonEnv,
	notes: []string{"skipped /root/.cache/uv: `uv sync --link-mode symlink` sets --link-mode symlink"},
}, {
	name: "the script sets a link mode", in: "export UV_LINK_MODE=symlink && uv sync", env: pythonEnv,
	notes: []string{"skipped /root/.cache/uv: the script sets UV_LINK_MODE=symlink"},
}, {
	name: "the user's own cache mount: --no-cache stays",
	in:   "uv pip install --no-cache -r requirements.txt", env: pythonEnv, mounts: []string{"/root/.cache/uv"},
	notes: []string{"skipped /root/.cache/uv: the step already mounts /root/.cache/uv"},
}, {
	name: "numeric user with HOME", in: "uv sync", user: "10001", env: withEnv(pythonEnv, "HOME=/home/app"),
	caches: []string{"/home/app/.cache/uv shared 10001:0"}, outEnv: withEnv(pythonEnv, "HOME=/home/app", "UV_LINK_MODE=copy"),
	notes: []string{"uv: built wheels stay in /home/app/.cache/uv, shared by every image"},
}, {
	name: "the sdists bucket goes with the cache: the whole-cache skip takes it too", in: "uv sync --link-mode symlink", env: pythonEnv,
	notes: []string{"skipped /root/.cache/uv/sdists-v9: the cache around it (/root/.cache/uv) is not"},
}, {
	name: "rm of the cache goes, the sdists mount inside it stays", in: "uv sync --frozen && rm -rf /root/.cache/uv", env: pythonEnv,
	out: "uv sync --frozen && true", caches: uvRoot, outEnv: withEnv(pythonEnv, "UV_LINK_MODE=copy"),
}, {
	name: "uv pip freeze, uv python pin, uv --version", in: "uv --version && uv python pin 3.12 && uv pip freeze", env: pythonEnv,
	none: true,
}, {
	name: "uv run: the command's own -n (pytest-xdist) stays", in: "uv run --with pytest-xdist pytest -n 4", env: pythonEnv,
	caches: uvRoot, outEnv: withEnv(pythonEnv, "UV_LINK_MODE=copy"),
}, {
	name: "pip install uv is pip's", in: "pip install uv==0.5.0", env: pythonEnv, caches: pipRoot,
}}
