package pkgmgr

import (
	"path"
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// Yarn comes in two unrelated lines, and which one runs is decided by
// files we can't see (package.json's packageManager with corepack, a
// .yarnrc.yml yarnPath that the global Yarn 1 hands over to).
//
// Yarn 1 (classic) keeps an offline mirror of every package in its cache
// folder: --cache-folder, YARN_CACHE_FOLDER, else $XDG_CACHE_HOME/yarn,
// else <home>/.cache/yarn where <home> is /usr/local/share for root and
// $HOME otherwise (yarn's constants.js and user-home-dir.js). node_modules
// gets copies, so the cache is pure cache — unless Yarn 1's experimental
// Plug'n'Play (--pnp) is on.
//
// Yarn 2+ (berry) is different: with Plug'n'Play, its default linker, the
// application loads packages straight from the cache's zip files at run
// time. Its project cache (.yarn/cache, and zero-installs commit it with
// the sources) is product, and so is the global cache (~/.yarn/berry/cache,
// YARN_GLOBAL_FOLDER; the default in Yarn 4) under PnP. So:
//   - the Yarn 1 default cache is mounted for any yarn command: berry never
//     uses that path, so it is at worst unused;
//   - berry's global cache only when the environment sets YARN_NODE_LINKER
//     to node-modules or pnpm (environment beats .yarnrc.yml);
//   - a YARN_CACHE_FOLDER is berry's cacheFolder too: mounted only when
//     the step is surely Yarn 1 (below) or the linker is node-modules/pnpm;
//   - .yarn/cache in the project: never.
//
// "Surely Yarn 1": some yarn command of the step uses a flag or command
// berry rejects (--network-timeout, --pure-lockfile, --production, `yarn
// global add`, …). Only then does `yarn cache clean` go: in berry it would
// clean the project cache, which must stay as upstream leaves it.
//
// Sharing: locked. Yarn 1 has no lock across processes on its cache (its
// --mutex is opt-in and per host); berry's cross-process behaviour we
// could not verify.

// Flags and commands only Yarn 1 accepts (berry fails on them).
var yarn1Only = map[string]bool{
	"--network-timeout": true, "--pure-lockfile": true, "--no-lockfile": true, "--production": true,
	"--prod": true, "--ignore-optional": true, "--non-interactive": true, "--modules-folder": true,
	"--cache-folder": true, "--link-duplicates": true, "--check-files": true, "--flat": true, "--har": true,
	"--no-bin-links": true, "--ignore-platform": true, "--prefer-offline": true, "--mutex": true,
}

var yarnValued = []string{
	"--cwd", "--cache-folder", "--network-timeout", "--modules-folder", "--mutex", "--registry",
	"--global-folder", "--link-folder", "--use-yarnrc", "--otp", "--network-concurrency", "--child-concurrency",
}

// Commands that fetch packages. A bare `yarn` (options only) installs.
var yarnDownloads = map[string]bool{
	"": true, "install": true, "add": true, "upgrade": true, "up": true, "upgrade-interactive": true,
	"global": true, "dlx": true, "import": true, "workspaces focus": true,
}

func yarnSub(argv []shell.Word, from int) (string, int) {
	rest, ok := shell.SkipOptions(argv[from:], "", yarnValued)
	if !ok {
		return "?", -1
	}
	if len(rest) == 0 {
		if shell.HasWord(argv, from, "--version", "-v", "--help", "-h") {
			return "--version", -1
		}
		return "", len(argv)
	}
	if !rest[0].Known {
		return "?", -1
	}
	if rest[0].Val == "workspaces" && len(rest) > 1 && rest[1].Known {
		return "workspaces " + rest[1].Val, len(argv) - len(rest) + 1
	}
	return rest[0].Val, len(argv) - len(rest)
}

// yarn1Cache is Yarn 1's cache folder for a command, and whether it came
// from YARN_CACHE_FOLDER (which berry reads too).
func yarn1Cache(c *shell.Command, from int) (dir string, fromEnv, ok bool, why string) {
	if d, found, known := shell.FindFlag(c.Argv, from, "--cache-folder", "", false); found {
		if !known {
			return "", false, false, "--cache-folder is not a literal"
		}
		d, ok, why := absDir("--cache-folder "+d, d, "")
		return d, false, ok, why
	}
	if d, ok, why := dirSetting(c.Env, "YARN_CACHE_FOLDER", ""); !ok || d != "" {
		return d, true, ok, why
	}
	if d, ok, why := dirSetting(c.Env, "XDG_CACHE_HOME", ""); !ok || d != "" {
		return path.Join(d, "yarn"), false, ok, why
	}
	if c.User.Kind == shell.RootUser {
		return "/usr/local/share/.cache/yarn", false, true, ""
	}
	h, ok, why := shell.Home(c.Env, c.User)
	return path.Join(h, ".cache/yarn"), false, ok, why
}

// yarnBerryCache is berry's global cache when the environment makes it pure
// cache (node-modules or pnpm linker, global cache not turned off).
func yarnBerryCache(c *shell.Command) (string, bool) {
	linker, _, known := c.Env.Get("YARN_NODE_LINKER")
	if !known || (linker != "node-modules" && linker != "pnpm") {
		return "", false
	}
	if v, set, known := c.Env.Get("YARN_ENABLE_GLOBAL_CACHE"); set && (!known || !truthy(v)) {
		return "", false
	}
	if d, ok, _ := dirSetting(c.Env, "YARN_GLOBAL_FOLDER", ""); ok && d != "" {
		return path.Join(d, "cache"), true
	}
	if d, ok, _ := dirSetting(c.Env, "XDG_DATA_HOME", ""); ok && d != "" {
		return path.Join(d, "yarn/berry/cache"), true
	}
	h, ok, _ := shell.Home(c.Env, c.User)
	if !ok {
		return "", false
	}
	return path.Join(h, ".yarn/berry/cache"), true
}

func yarnIsOne(c *shell.Command, from int, sub string) bool {
	if sub == "global" {
		return true
	}
	if sub == "dlx" {
		return false // the rest is the downloaded tool's command line
	}
	for _, w := range c.Argv[from:] {
		name, _, _ := strings.Cut(w.Text(), "=")
		if yarn1Only[name] {
			return true
		}
	}
	return false
}

func init() {
	register(manager{
		Name:          "yarn",
		Programs:      []string{"yarn", "yarnpkg"},
		Launchers:     []string{"corepack"},
		CacheVars:     []string{"YARN_CACHE_FOLDER", "YARN_GLOBAL_FOLDER"},
		CachePrograms: []string{"yarn"},
		Analyze:       analyzeYarn,
	})
}

// yarnUse is a yarn command and where its arguments start.
type yarnUse struct {
	c    *shell.Command
	from int
}

func analyzeYarn(t *task) {
	var uses, cleans []yarnUse
	one := false
	for _, c := range t.commands() {
		_, from, ok := t.runs(c)
		if !ok {
			continue
		}
		sub, _ := yarnSub(c.Argv, from)
		switch {
		case yarnDownloads[sub]:
			uses = append(uses, yarnUse{c, from})
			one = one || yarnIsOne(c, from, sub)
		case sub == "cache":
			cleans = append(cleans, yarnUse{c, from})
		}
	}
	if len(uses) == 0 {
		return
	}
	t.detect()
	for _, u := range uses {
		yarnWant(t, u, one)
	}
	for _, cl := range cleans {
		yarnClean(t, cl, one)
	}
}

// yarnWant asks for the caches of a fetching command; one: the step is
// surely Yarn 1.
func yarnWant(t *task, u yarnUse, one bool) {
	c := u.c
	dir, fromEnv, ok, why := yarn1Cache(c, u.from)
	switch {
	case !ok:
		t.skip(why)
	case shell.HasWord(c.Argv, u.from, "--pnp"):
		t.skip("`" + shell.OneLine(c.Raw) + "` uses Plug'n'Play, which loads packages from the cache")
	case fromEnv && !one:
		if _, pure := yarnBerryCache(c); !pure {
			t.skip("YARN_CACHE_FOLDER may be Yarn 2+'s cacheFolder, which Plug'n'Play runs from")
			break
		}
		t.want(c.User, dir, Locked)
	default:
		t.want(c.User, dir, Locked)
	}
	if berry, pure := yarnBerryCache(c); pure && !one {
		t.want(c.User, berry, Locked)
	}
}

// yarnClean reads `yarn cache clean`: it goes only where the step is
// surely Yarn 1 (in berry it cleans the project's cache, which stays).
func yarnClean(t *task, cl yarnUse, one bool) {
	c := cl.c
	rest, _ := shell.SkipOptions(c.Argv[cl.from:], "", yarnValued)
	if len(rest) < 2 || !rest[1].Known || rest[1].Val != "clean" {
		return
	}
	dir, _, ok, _ := yarn1Cache(c, cl.from)
	if !ok {
		return
	}
	switch {
	case shell.HasWord(c.Argv, cl.from, "--all", "--mirror"):
		if berry, pure := yarnBerryCache(c); pure {
			t.block(berry, "`"+shell.OneLine(c.Raw)+"` empties it at the end")
		}
	case one:
		t.clears(c, dir)
	default:
		t.block(dir, "`"+shell.OneLine(c.Raw)+"` may be Yarn 2+'s (which cleans the project's cache): it stays, and would empty Yarn 1's")
	}
}
