package pkgmgr

import (
	"path"
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// conda, mamba and micromamba download package tarballs into a package
// cache (pkgs_dirs) and extract them there; environments get the files by
// hardlink (or copy when that fails, as it does across the mount; conda
// and libmamba both fall back). The cache is:
//
//	CONDA_PKGS_DIRS (first entry), else
//	<root prefix>/pkgs, the root prefix being
//	  micromamba: -r/--root-prefix, MAMBA_ROOT_PREFIX (the micromamba image
//	              sets /opt/conda)
//	  conda/mamba: the installation the program runs from: its path
//	              (/opt/conda/bin/conda), else CONDA_DIR (jupyter,
//	              miniforge images), MAMBA_ROOT_PREFIX, else a PATH entry
//	              .../bin whose parent looks like a conda install
//	              (miniconda3, miniforge3, anaconda3, conda, mambaforge).
//
// A root prefix we can't establish means no cache (a guessed pkgs dir
// would only be useless, but a wrong guess is not worth it).
//
// Products never mounted: envs/, the root prefix itself. With
// always_softlink (a .condarc setting) environments would point into pkgs:
// that is off by default and we can't see it; CONDA_ALWAYS_SOFTLINK in the
// environment makes us leave the step alone.
//
// Cleanups: `conda clean` (-a, -t, -p, -i, -f …) only touches package
// caches (tarballs, extracted packages, index cache, logs and locks live in
// pkgs dirs) and goes when the cache is mounted; the same for mamba and
// micromamba. `-c`/`--tempfiles` cleans environments: that one stays. Images that ran `conda clean -afy` ship an empty pkgs.
//
// Sharing: locked. Two builds extracting the same package into one cache
// would race; conda's own locking is not something we can rely on across
// versions (micromamba takes a lock file in the cache, conda varies).

var condaDownloads = map[string]bool{
	"install": true, "create": true, "update": true, "upgrade": true, "env create": true, "env update": true,
	"self-update": true,
}

var condaValued = []string{
	"-n", "--name", "-p", "--prefix", "-r", "--root-prefix", "-c", "--channel", "-f", "--file",
	"--rc-file", "--override-channels",
}

// condaLooksLikeRoot: the directory holding a conda installation's bin/.
func condaLooksLikeRoot(dir string) bool {
	b := strings.ToLower(path.Base(dir))
	for _, s := range []string{"conda", "forge", "mamba"} {
		if strings.Contains(b, s) {
			return true
		}
	}
	return false
}

// condaPkgsDir works out the package cache of one command.
func condaPkgsDir(c call) (string, bool, string) {
	name := c.prog
	if v, set, known := c.Env.Get("CONDA_PKGS_DIRS"); set && v != "" {
		if !known {
			return "", false, "CONDA_PKGS_DIRS is not a literal"
		}
		first, _, _ := strings.Cut(v, ",")
		return absDir("CONDA_PKGS_DIRS="+v, first, "")
	}
	root := ""
	if name == "micromamba" {
		if d, found, known := shell.FindFlag(c.Argv, 1, "--root-prefix", "-r", false); found {
			if !known {
				return "", false, "--root-prefix is not a literal"
			}
			root = d
		} else if d, ok, why := dirSetting(c.Env, "MAMBA_ROOT_PREFIX", ""); !ok {
			return "", false, why
		} else if d == "" {
			return "", false, "MAMBA_ROOT_PREFIX not set (micromamba's default root prefix depends on its version)"
		} else {
			root = d
		}
	} else {
		prog := c.Argv[0]
		switch {
		case prog.Known && path.IsAbs(prog.Val) && path.Base(path.Dir(prog.Val)) == "bin":
			root = path.Dir(path.Dir(path.Clean(prog.Val)))
		case c.Env["CONDA_DIR"].Known && c.Env["CONDA_DIR"].Val != "":
			root = c.Env["CONDA_DIR"].Val
		case c.Env["MAMBA_ROOT_PREFIX"].Known && c.Env["MAMBA_ROOT_PREFIX"].Val != "":
			root = c.Env["MAMBA_ROOT_PREFIX"].Val
		default:
			p, _, known := c.Env.Get("PATH")
			if known {
				for _, e := range strings.Split(p, ":") {
					if path.IsAbs(e) && path.Base(e) == "bin" && condaLooksLikeRoot(path.Dir(e)) {
						root = path.Dir(path.Clean(e))
						break
					}
				}
			}
		}
		if root == "" {
			return "", false, "can't tell where " + name + " is installed"
		}
	}
	d, ok, why := absDir("root prefix "+root, root, "")
	if !ok {
		return "", false, why
	}
	if d == "/" || broadDirs[d] {
		return "", false, "root prefix " + d + " is too broad"
	}
	return path.Join(d, "pkgs"), true, ""
}

func init() {
	register(manager{
		Name:          "conda",
		Programs:      []string{"conda", "mamba", "micromamba"},
		CacheVars:     []string{"CONDA_PKGS_DIRS", "MAMBA_ROOT_PREFIX", "CONDA_DIR", "CONDA_PREFIX"},
		CachePrograms: []string{"conda", "mamba", "micromamba"},
		// Extracted packages are named <name>-<version>-<build> without
		// the subdir (linux-64, linux-aarch64); the same name on two
		// platforms is re-fetched and re-extracted over the other's copy.
		PerPlatform: true,
		Analyze:     func(t *task) { condaCLI.run(t) },
	})
}

var condaCLI = cli{
	sub:     subIn("nprcf", condaValued, "env"),
	fetches: condaDownloads,
	cache:   condaPkgsDir,
	sharing: Locked,
	check: func(t *task, c call, dir string) string {
		if v, set, _ := c.Env.Get("CONDA_ALWAYS_SOFTLINK"); set && truthy(v) {
			return "CONDA_ALWAYS_SOFTLINK: environments would link into the cache"
		}
		if shell.HasWord(c.Argv, c.from, "--offline", "--use-index-cache", "-C") {
			t.block(dir, "`"+shell.OneLine(c.Raw)+"` works from the image's package cache")
		}
		return ""
	},
	clears: func(c call, dir string) []string {
		if c.sub == "clean" && !shell.HasWord(c.Argv, c.from, "-c", "--tempfiles") {
			return []string{dir}
		}
		return nil
	},
}
