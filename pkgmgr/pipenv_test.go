package pkgmgr

import "testing"

var pipenvRoot = []string{"/root/.cache/pipenv shared 0:0", "/root/.cache/pipenv/wheels shared 0:0 per-image"}

// Shapes from the corpus (18F tock, httpbin, uktrade, paperless-ngx, pipenv's
// own image).
func TestPipenv(t *testing.T) { runCases(t, pipenvCases) }

func init() { registerCases("pipenv", pipenvCases) }

var pipenvCases = []tcase{{
	name: "install --system --deploy", in: "pipenv install --system --deploy", env: pythonEnv, cwd: "/app",
	caches: pipenvRoot, notes: []string{"pipenv: cache /root/.cache/pipenv (shared)"},
}, {
	name: "pip installs pipenv first", in: "pip install --upgrade pipenv && pipenv install --dev --system --deploy",
	env: pythonEnv, caches: []string{"/root/.cache/pip shared 0:0", "/root/.cache/pip/wheels shared 0:0 per-image", "/root/.cache/pipenv shared 0:0", "/root/.cache/pipenv/wheels shared 0:0 per-image"},
}, {
	name: "PIPENV_CACHE_DIR", in: "pipenv sync", env: withEnv(pythonEnv, "PIPENV_CACHE_DIR=/var/cache/pipenv"),
	caches: []string{"/var/cache/pipenv shared 0:0", "/var/cache/pipenv/wheels shared 0:0 per-image"},
}, {
	name: "XDG_CACHE_HOME", in: "pipenv install --deploy", env: withEnv(pythonEnv, "XDG_CACHE_HOME=/cache"),
	caches: []string{"/cache/pipenv shared 0:0", "/cache/pipenv/wheels shared 0:0 per-image"},
}, {
	name: "ENV PIP_NO_CACHE_DIR would turn pipenv's pip cache off", in: "pipenv install --system",
	env: withEnv(pythonEnv, "PIP_NO_CACHE_DIR=1"), caches: pipenvRoot, outEnv: pythonEnv,
	notes: []string{"pipenv: removed PIP_NO_CACHE_DIR from the step's env"},
}, {
	name: "pipenv --clear after install goes", in: "pipenv install --deploy --system && pipenv --clear", env: pythonEnv,
	out: "pipenv install --deploy --system && true", caches: pipenvRoot,
}, {
	name: "httpbin: lock -r fed to pip", in: "pipenv lock -r > requirements.txt", env: pythonEnv, caches: pipenvRoot,
}, {
	name: "python -m pipenv", in: "python3 -m pipenv install --system", env: pythonEnv, caches: pipenvRoot,
}, {
	name: "numeric user without HOME", in: "pipenv install", user: "1000", env: pythonEnv,
	notes: []string{"pipenv: skipped: home of user 1000 unknown"},
}, {
	name: "pipenv run and --version", in: "pipenv --version && pipenv run python manage.py collectstatic --noinput",
	env: pythonEnv, none: true,
}, {
	name: "requirements export", in: "pipenv requirements > requirements.txt", env: pythonEnv, none: true,
}}
