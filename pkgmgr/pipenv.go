package pkgmgr

import "github.com/autocache/autocache/pkgmgr/internal/shell"

// Pipenv's cache is PIPENV_CACHE_DIR, else platformdirs'
// user_cache_dir("pipenv"): $XDG_CACHE_HOME/pipenv or ~/.cache/pipenv
// (pipenv/environments.py). Pipenv runs pip with PIP_CACHE_DIR set to that
// same directory (pipenv/utils/pip.py), so downloads and built wheels land
// there (wheels/ gets a per-image cache, as pip's); its resolver keeps
// pipenv-manifests/ there too. The virtualenvs
// live in WORKON_HOME (~/.local/share/virtualenvs) or the project's .venv:
// never mounted.
//
// Pipenv passes its environment to pip, so PIP_NO_CACHE_DIR turns that pip
// cache off: dropped from the step (like pip's). `pipenv --clear` removes
// the cache: it goes.
//
// Sharing: shared, as pip's cache (pip writes entries atomically).

var pipenvDownloads = map[string]bool{
	"install": true, "sync": true, "lock": true, "update": true, "upgrade": true, "requirements": false,
}

func init() {
	register(manager{
		Name:          "pipenv",
		Programs:      []string{"pipenv"},
		CacheVars:     []string{"PIPENV_CACHE_DIR"},
		CachePrograms: []string{"pipenv"},
		Analyze:       func(t *task) { pipenvCLI.run(t) },
	})
}

var pipenvCLI = cli{
	sub:     subIn("", []string{"--python", "--site-packages"}),
	fetches: pipenvDownloads,
	cache:   firstOf(envDir("PIPENV_CACHE_DIR", ""), xdgDir("XDG_CACHE_HOME", "pipenv", ".cache/pipenv")),
	mounts: func(call, string) []mount {
		return []mount{{}, {dir: "wheels", built: true, inside: true}} // pip's built wheels
	},
	sharing: Shared,
	offEnv:  []string{"PIP_NO_CACHE_DIR"},
	clears: func(c call, dir string) []string {
		if shell.HasWord(c.Argv, c.from, "--clear") {
			return []string{dir}
		}
		return nil
	},
}
