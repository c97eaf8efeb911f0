package pkgmgr

import "testing"

var poetrySubdirs = []string{"/root/.cache/pypoetry/artifacts locked 0:0 per-image", "/root/.cache/pypoetry/cache locked 0:0"}

// Shapes from the corpus (Nettacker, kuma, AgentGPT, mealie, presidio) and
// Poetry's Docker FAQ.
func TestPoetry(t *testing.T) { runCases(t, poetryCases) }

func init() { registerCases("poetry", poetryCases) }

var poetryCases = []tcase{{
	name: "default: venvs may be in the cache dir, only cache/ and artifacts/",
	in:   "poetry install --no-root --only main", env: pythonEnv, cwd: "/app", caches: poetrySubdirs,
	notes: []string{"poetry: cache /root/.cache/pypoetry/cache (locked)"},
}, {
	name: "ENV POETRY_VIRTUALENVS_CREATE=false: the whole cache dir",
	in:   "poetry install --no-interaction --no-ansi", env: withEnv(pythonEnv, "POETRY_VIRTUALENVS_CREATE=false"),
	caches: []string{"/root/.cache/pypoetry locked 0:0", "/root/.cache/pypoetry/artifacts locked 0:0 per-image"},
}, {
	name: "Poetry FAQ: in-project venv, cache dir removed after",
	in:   "poetry install --without dev --no-root && rm -rf $POETRY_CACHE_DIR",
	env: withEnv(pythonEnv, "POETRY_NO_INTERACTION=1", "POETRY_VIRTUALENVS_IN_PROJECT=1", "POETRY_VIRTUALENVS_CREATE=1",
		"POETRY_CACHE_DIR=/tmp/poetry_cache"),
	out: "poetry install --without dev --no-root && true", caches: []string{"/tmp/poetry_cache locked 0:0", "/tmp/poetry_cache/artifacts locked 0:0 per-image"},
}, {
	name:  "the same without the venv settings: rm of the cache dir takes the mountpoints",
	in:    "poetry install --without dev --no-root && rm -rf $POETRY_CACHE_DIR",
	env:   withEnv(pythonEnv, "POETRY_CACHE_DIR=/tmp/poetry_cache"),
	notes: []string{"skipped /tmp/poetry_cache/cache: `rm -rf $POETRY_CACHE_DIR` would remove the mountpoint"},
}, {
	name: "Nettacker: in-step `poetry config` isn't trusted (a poetry.toml may override it); --no-cache dropped",
	in:   "poetry config virtualenvs.in-project true &&     poetry install --no-cache --no-root --without dev", env: pythonEnv,
	out:    "poetry config virtualenvs.in-project true &&     poetry install --no-root --without dev",
	caches: poetrySubdirs, notes: []string{"poetry: dropped --no-cache"},
}, {
	name: "POETRY_VIRTUALENVS_PATH outside", in: "poetry install", env: withEnv(pythonEnv, "POETRY_VIRTUALENVS_PATH=/opt/venvs"),
	caches: []string{"/root/.cache/pypoetry locked 0:0", "/root/.cache/pypoetry/artifacts locked 0:0 per-image"},
}, {
	name: "the whole cache dir for a numeric user: artifacts/ stays in it", in: "poetry install", user: "1000",
	env:    withEnv(pythonEnv, "HOME=/home/app", "POETRY_VIRTUALENVS_CREATE=false"),
	caches: []string{"/home/app/.cache/pypoetry locked 1000:0"},
	notes:  []string{"poetry: built wheels stay in /home/app/.cache/pypoetry, shared by every image"},
}, {
	name: "numeric user, subdirs: artifacts/ is per image", in: "poetry install", user: "1000",
	env:    withEnv(pythonEnv, "HOME=/home/app"),
	caches: []string{"/home/app/.cache/pypoetry/artifacts locked 1000:0 per-image", "/home/app/.cache/pypoetry/cache locked 1000:0"},
}, {
	name: "POETRY_VIRTUALENVS_PATH inside the cache dir", in: "poetry install",
	env: withEnv(pythonEnv, "POETRY_VIRTUALENVS_PATH=/root/.cache/pypoetry/venvs"), caches: poetrySubdirs,
}, {
	name: "python -m poetry and cache clear of the whole dir",
	in:   "python -m poetry install && poetry cache clear --all pypi",
	env:  withEnv(pythonEnv, "POETRY_VIRTUALENVS_CREATE=false"),
	out:  "python -m poetry install && true", caches: []string{"/root/.cache/pypoetry locked 0:0", "/root/.cache/pypoetry/artifacts locked 0:0 per-image"},
}, {
	name: "pip installs poetry, poetry installs the project",
	in:   "pip install --no-cache-dir poetry==1.8.3 && poetry install --no-root", env: pythonEnv,
	out: "pip install poetry==1.8.3 && poetry install --no-root", caches: append([]string{"/root/.cache/pip shared 0:0", "/root/.cache/pip/wheels shared 0:0 per-image"}, poetrySubdirs...),
}, {
	name: "presidio: rm of $(poetry config cache-dir) may hit anything", in: "poetry install && rm -rf $(poetry config cache-dir)",
	env: pythonEnv, notes: []string{"`rm -rf $(poetry config cache-dir)` may remove it"},
}, {
	name: "export, build, config: none",
	in:   "poetry config virtualenvs.create false && poetry export -f requirements.txt -o requirements.txt && poetry build",
	env:  pythonEnv, none: true,
}, {
	name: "poetry --version", in: "poetry --version", env: pythonEnv, none: true,
}}
