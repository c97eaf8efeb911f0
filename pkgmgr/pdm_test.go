package pkgmgr

import "testing"

var pdmRoot = []string{"/root/.cache/pdm/http locked 0:0", "/root/.cache/pdm/wheels locked 0:0 per-image"}

// Shapes from PDM's Docker docs and public Dockerfiles.
func TestPdm(t *testing.T) { runCases(t, pdmCases) }

func init() { registerCases("pdm", pdmCases) }

var pdmCases = []tcase{{
	name: "pdm docs: install --check --prod --no-editable", in: "pdm install --check --prod --no-editable",
	env: pythonEnv, cwd: "/project", caches: pdmRoot, notes: []string{"pdm: cache /root/.cache/pdm/http (locked)"},
}, {
	name: "pip installs pdm", in: "pip install -U pdm && pdm sync --prod",
	env: pythonEnv, caches: append(pdmRoot[:2:2], "/root/.cache/pip shared 0:0", "/root/.cache/pip/wheels shared 0:0 per-image"),
}, {
	name: "PDM_CACHE_DIR", in: "pdm install", env: withEnv(pythonEnv, "PDM_CACHE_DIR=/tmp/pdm"),
	caches: []string{"/tmp/pdm/http locked 0:0", "/tmp/pdm/wheels locked 0:0 per-image"},
}, {
	name: "--no-cache dropped", in: "pdm install --no-cache --prod", env: pythonEnv,
	out: "pdm install --prod", caches: pdmRoot,
}, {
	name: "ENV PDM_NO_CACHE", in: "pdm install", env: withEnv(pythonEnv, "PDM_NO_CACHE=1"), caches: pdmRoot, outEnv: pythonEnv,
}, {
	name: "cache clear http goes", in: "pdm install && pdm cache clear http", env: pythonEnv,
	out: "pdm install && true", caches: pdmRoot,
}, {
	name: "cache clear of everything (packages/ too) stays: nothing mounted", in: "pdm install && pdm cache clear",
	env: pythonEnv, notes: []string{"`pdm cache clear` also removes /root/.cache/pdm/packages"},
}, {
	name: "python -m pdm", in: "python -m pdm install -G :all", env: pythonEnv, caches: pdmRoot,
}, {
	name: "run and export: none", in: "pdm export -o requirements.txt && pdm run python app.py", env: pythonEnv, none: true,
}, {
	name: "numeric user: wheels/ is not inside another cache, so it is per image too", in: "pdm install", user: "1000",
	env:    withEnv(pythonEnv, "HOME=/home/app"),
	caches: []string{"/home/app/.cache/pdm/http locked 1000:0", "/home/app/.cache/pdm/wheels locked 1000:0 per-image"},
}, {
	name: "named user", in: "pdm install", user: "app", env: pythonEnv, notes: []string{"pdm: skipped: user app not resolved yet"},
}}
