package pkgmgr

import "path"

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

func pipenvCacheDir(c *command) (string, bool, string) {
	if d, ok, why := dirSetting(c.env, "PIPENV_CACHE_DIR", ""); !ok || d != "" {
		return d, ok, why
	}
	return userDir(c.env, c.user, "XDG_CACHE_HOME", "pipenv", ".cache/pipenv")
}

func analyzePipenv(a *analysis) {
	var uses []offUse
	for _, c := range a.cmds {
		name, from := program(c)
		if name != "pipenv" {
			continue
		}
		rest, ok := skipOptions(c.argv[from:], "", []string{"--python", "--site-packages"})
		sub := ""
		if ok && len(rest) > 0 && rest[0].known {
			sub = rest[0].val
		}
		dir, dok, why := pipenvCacheDir(c)
		switch {
		case pipenvDownloads[sub]:
			a.detect("pipenv")
			if !dok {
				a.skip("pipenv", why)
				continue
			}
			a.want("pipenv", c.user, dir, Shared)
			a.wantBuilt("pipenv", c.user, dir, path.Join(dir, "wheels"), Shared) // pip's built wheels
			uses = append(uses, offUse{c: c, target: dir})
		case hasWord(c.argv, from, "--clear") && dok:
			a.addCleanup("pipenv", c, cleanItem{word: -1, targets: []string{dir}})
		}
	}
	if len(uses) > 0 {
		a.dropOffSwitches("pipenv", []string{"PIP_NO_CACHE_DIR"}, uses)
	}
}
