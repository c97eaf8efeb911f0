package pkgmgr

import (
	"slices"
	"testing"
)

var pipRoot = []string{"/root/.cache/pip shared 0:0", "/root/.cache/pip/wheels shared 0:0 per-image"}

func TestPip(t *testing.T) { runCases(t, pipCases) }

func init() { registerCases("pip", pipCases) }

var pipCases = []tcase{{
	name: "no-cache-dir dropped", in: "pip install --no-cache-dir -r requirements.txt", env: pythonEnv,
	out: "pip install -r requirements.txt", caches: pipRoot,
	notes: []string{"pip: cache /root/.cache/pip (shared)", "pip: dropped --no-cache-dir"},
}, {
	name: "OWASP nettacker: wheel glob and rm after",
	in:   "pip install --no-deps --no-cache-dir nettacker-*.whl &&     rm -f nettacker-*.whl", env: pythonEnv,
	out: "pip install --no-deps nettacker-*.whl &&     rm -f nettacker-*.whl", caches: pipRoot,
}, {
	name: "pip3 upgrade pip", in: "pip3 install --upgrade pip", env: pythonEnv, caches: pipRoot,
}, {
	name: "python3 -m pip with the flag before the subcommand",
	in:   "python3 -m pip --no-cache-dir install --upgrade pip setuptools wheel", env: pythonEnv,
	out: "python3 -m pip install --upgrade pip setuptools wheel", caches: pipRoot,
}, {
	name: "python3.11 -I -m pip, --no-cache-dir=1 and the --no-cache abbreviation",
	in:   "python3.11 -I -m pip install --no-cache-dir=1 a && pip3.12 install --no-cache b", env: pythonEnv,
	out: "python3.11 -I -m pip install a && pip3.12 install b", caches: pipRoot,
}, {
	name: "venv pip by absolute path and through a variable",
	in:   `/opt/venv/bin/pip install -r req.txt && "$VIRTUAL_ENV/bin/pip" install --no-cache-dir gunicorn`,
	env:  append([]string{"VIRTUAL_ENV=/opt/venv"}, pythonEnv...),
	out:  `/opt/venv/bin/pip install -r req.txt && "$VIRTUAL_ENV/bin/pip" install gunicorn`, caches: pipRoot,
}, {
	name: "pip freeze / list / show don't download", in: "pip freeze > requirements.txt && pip list && pip show flask", none: true,
}, {
	name: "pip install inside echo", in: `echo "pip install --no-cache-dir x"`, none: true,
}, {
	name: "uv pip is uv's, not pip's", in: "uv pip install --system flask", caches: []string{"/root/.cache/uv shared 0:0", "/root/.cache/uv/sdists-v9 shared 0:0 per-image"},
	outEnv: append(slices.Clone(debianEnv), "UV_LINK_MODE=copy"),
}, {
	name: "ENV PIP_NO_CACHE_DIR removed from the step's env",
	in:   "pip install flask", env: []string{"PATH=/usr/bin", "PIP_NO_CACHE_DIR=1", "PIP_DISABLE_PIP_VERSION_CHECK=1"},
	caches: pipRoot, outEnv: []string{"PATH=/usr/bin", "PIP_DISABLE_PIP_VERSION_CHECK=1"},
	notes: []string{"pip: removed PIP_NO_CACHE_DIR from the step's env"},
}, {
	name: "inline PIP_NO_CACHE_DIR", in: "PIP_NO_CACHE_DIR=off PIP_ROOT_USER_ACTION=ignore pip install flask",
	out: "PIP_ROOT_USER_ACTION=ignore pip install flask", caches: pipRoot,
	notes: []string{"pip: dropped `PIP_NO_CACHE_DIR=off`"},
}, {
	name: "env wrapper PIP_NO_CACHE_DIR", in: "env PIP_NO_CACHE_DIR=1 pip install flask",
	out: "env pip install flask", caches: pipRoot,
}, {
	name: "export statement (sh)", in: "export PIP_NO_CACHE_DIR=1 && pip install flask",
	out: "true && pip install flask", caches: pipRoot,
}, {
	name:    "export statement with two names (bash)",
	argv:    []string{"/bin/bash", "-c", "export LANG=C.UTF-8 PIP_NO_CACHE_DIR=1; pip install flask"},
	outArgv: []string{"/bin/bash", "-c", "export LANG=C.UTF-8; pip install flask"}, caches: pipRoot,
}, {
	name: "PIP_CACHE_DIR from ENV", in: "pip install flask", env: []string{"PIP_CACHE_DIR=/pipcache"},
	caches: []string{"/pipcache shared 0:0", "/pipcache/wheels shared 0:0 per-image"},
}, {
	name: "XDG_CACHE_HOME from an earlier export", in: "export XDG_CACHE_HOME=/cache; pip install flask",
	caches: []string{"/cache/pip shared 0:0", "/cache/pip/wheels shared 0:0 per-image"},
}, {
	name: "--cache-dir flag", in: "pip install --cache-dir=/tmp/pipcache flask", caches: []string{"/tmp/pipcache shared 0:0", "/tmp/pipcache/wheels shared 0:0 per-image"},
}, {
	name: "non-literal PIP_CACHE_DIR", in: "export PIP_CACHE_DIR=$(mktemp -d) && pip install flask",
	notes: []string{"pip: skipped: PIP_CACHE_DIR is not a literal"},
}, {
	name: "numeric user without HOME", in: "pip install --user flask", user: "1000:1000",
	notes: []string{"pip: skipped: home of user 1000:1000 unknown"},
}, {
	name: "numeric user with HOME (jupyter)", in: "pip install --no-cache-dir 'tensorflow[and-cuda]'", user: "1000",
	env: []string{"HOME=/home/jovyan", "CONDA_DIR=/opt/conda"},
	out: "pip install 'tensorflow[and-cuda]'", caches: []string{"/home/jovyan/.cache/pip shared 1000:0"},
	notes: []string{"cache /home/jovyan/.cache/pip (shared, uid 1000 gid 0)",
		"pip: built wheels stay in /home/jovyan/.cache/pip, shared by every image: the step is not run as root"},
}, {
	name: "named user", in: "pip install flask", user: "nonroot",
	notes: []string{"pip: skipped: user nonroot not resolved yet"},
}, {
	name: "sudo pip in a non-root step", in: "sudo pip install flask", user: "1000:1000", caches: pipRoot,
}, {
	name: "pip cache purge goes; alone it is left",
	in:   "pip install -r requirements.txt && pip cache purge", out: "pip install -r requirements.txt && true", caches: pipRoot,
	notes: []string{"pip: removed `pip cache purge`"},
}, {
	name: "pip cache purge alone", in: "pip cache purge", none: true,
}, {
	name:   "kuma: rm of the cache with ~ next to another dir",
	in:     "pip install poetry~=1.1.12     && POETRY_VIRTUALENVS_CREATE=false poetry install --no-root     && rm -rf ~/.cache/pip ~/.cache/pypoetry/cache",
	out:    "pip install poetry~=1.1.12     && POETRY_VIRTUALENVS_CREATE=false poetry install --no-root     && true",
	caches: []string{"/root/.cache/pip shared 0:0", "/root/.cache/pip/wheels shared 0:0 per-image", "/root/.cache/pypoetry locked 0:0", "/root/.cache/pypoetry/artifacts locked 0:0 per-image"}, // no venv in the cache dir
}, {
	name: "rm -rf $HOME/.cache/pip", in: `pip install flask && rm -rf "$HOME/.cache/pip"`, out: "pip install flask && true", caches: pipRoot,
}, {
	name: "rm of the cache's contents goes, the wheels mount inside it stays",
	in:   "pip install flask && rm -rf /root/.cache/pip/*", out: "pip install flask && true", caches: pipRoot,
}, {
	name: "rm of the wheels dir goes", in: "pip install flask && rm -rf ~/.cache/pip/wheels",
	out: "pip install flask && true", caches: pipRoot,
}, {
	name: "rm of ~/.cache would remove the mountpoint", in: "pip install flask && rm -rf ~/.cache",
	notes: []string{"skipped /root/.cache/pip: `rm -rf ~/.cache` would remove the mountpoint"},
}, {
	name: "rm of $(pip cache dir) may hit it", in: `pip install flask && rm -rf "$(pip cache dir)"`,
	notes: []string{"skipped /root/.cache/pip: `rm -rf \"$(pip cache dir)\"` may remove it"},
}, {
	name: "exec form", argv: []string{"pip", "install", "--no-cache-dir", "flask"},
	outArgv: []string{"pip", "install", "flask"}, caches: pipRoot,
}, {
	name: "user mount covers the cache: --no-cache-dir left alone",
	in:   "pip install --no-cache-dir flask", mounts: []string{"/root/.cache"},
	notes: []string{"skipped /root/.cache/pip: the step already mounts /root/.cache"},
}, {
	name: "detect-only string keeps --no-cache-dir", in: `sh -c "pip install --no-cache-dir $PKG"`,
	caches: pipRoot, notes: []string{"pip: kept --no-cache-dir (inside a string it can't edit)"},
}, {
	name:    "httpbin: bash -c with process substitution",
	argv:    []string{"/bin/sh", "-c", `/bin/bash -c "pip3 install --no-cache-dir -r <(pipenv lock -r)"`},
	outArgv: []string{"/bin/sh", "-c", `/bin/bash -c "pip3 install -r <(pipenv lock -r)"`},
	caches:  []string{"/root/.cache/pip shared 0:0", "/root/.cache/pip/wheels shared 0:0 per-image", "/root/.cache/pipenv shared 0:0", "/root/.cache/pipenv/wheels shared 0:0 per-image"},
}, {
	name: "heredoc-style multi-line RUN",
	in:   "set -e\npython -m venv /venv\n/venv/bin/pip install --no-cache-dir \\\n    -r requirements.txt\n",
	out:  "set -e\npython -m venv /venv\n/venv/bin/pip install \\\n    -r requirements.txt\n", caches: pipRoot,
}}

// The wheels cache goes with the cache around it: either refused, neither
// is mounted, and --no-cache-dir stays.
func TestPipWheelsGoWithTheCache(t *testing.T) {
	for refused, note := range map[string]string{
		"/root/.cache/pip/wheels": "pip: skipped /root/.cache/pip: /root/.cache/pip/wheels inside it is not cached",
		"/root/.cache/pip":        "pip: skipped /root/.cache/pip/wheels: the cache around it (/root/.cache/pip) is not",
	} {
		s := Step{Args: []string{"/bin/sh", "-c", "pip install --no-cache-dir flask"}, Env: pythonEnv,
			Refused: map[string]string{refused: "refused"}}
		p, err := Analyze(s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Caches) != 0 || !slices.Equal(p.Args, s.Args) || !slices.Contains(p.Notes, note) {
			t.Errorf("%s refused: caches %v, args %q, notes %q", refused, p.Caches, p.Args, p.Notes)
		}
	}
}

// A later step of the lineage gets both, the wheels cache still per image;
// its rm of the outer cache goes.
func TestPipWheelsFollow(t *testing.T) {
	follow := []CacheMount{
		{Manager: "pip", Target: "/root/.cache/pip", Sharing: Shared, Follows: "line 3"},
		{Manager: "pip", Target: "/root/.cache/pip/wheels", Sharing: Shared, PerImage: true, Follows: "line 3"},
	}
	s := Step{Args: []string{"/bin/sh", "-c", "make && rm -rf /root/.cache/pip"}, Env: pythonEnv, Follow: follow}
	p, err := Analyze(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Caches) != 2 || !p.Caches[1].PerImage || p.Caches[1].Follows != "line 3" || p.Args[2] != "make && true" {
		t.Errorf("caches %+v, args %q, notes %q", p.Caches, p.Args, p.Notes)
	}
}
