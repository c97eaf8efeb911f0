package pkgmgr

import (
	"path"
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// NuGet (dotnet restore and everything that restores implicitly: build,
// publish, test, run, pack, tool install/restore, add package) has two
// stores:
//   - the global packages folder, ~/.nuget/packages (NUGET_PACKAGES):
//     "considered a source, not a cache" (NuGet/Home#5619). Build outputs
//     probe it at run time (runtimeconfig.dev.json), and `dotnet tool
//     restore` runs tools from it. Product: never mounted.
//   - the HTTP cache: downloaded .nupkg files and feed responses,
//     NUGET_HTTP_CACHE_PATH, else $XDG_DATA_HOME/NuGet/v3-cache, else
//     ~/.local/share/NuGet/v3-cache (.NET's LocalApplicationData; $HOME is
//     what .NET reads). That is what we mount: packages are extracted into
//     the global packages folder, in the image as upstream, without being
//     downloaded again. Feed metadata in it expires after 30 minutes.
//
// Turned off by --no-cache / --no-http-cache (dropped). `dotnet nuget locals
// http-cache --clear` goes; `… all --clear` also clears the global packages
// folder, so it stays and the HTTP cache is not mounted.
//
// Sharing: locked. NuGet's cross-process lock files live in its scratch
// directory under /tmp, which each build has its own of.

var dotnetRestores = map[string]bool{
	"restore": true, "build": true, "publish": true, "test": true, "run": true, "pack": true, "add": true,
	"tool": true, "msbuild": true, "workload": false,
}

func init() {
	register(manager{
		Name:          "nuget",
		Programs:      []string{"dotnet", "nuget", "nuget.exe"},
		CacheVars:     []string{"NUGET_HTTP_CACHE_PATH"},
		CachePrograms: []string{"dotnet"},
		Analyze:       func(t *task) { nugetCLI.run(t) },
	})
}

var nugetCLI = cli{
	sub:     nugetSub,
	fetches: map[string]bool{"restore": true},
	cache:   firstOf(envDir("NUGET_HTTP_CACHE_PATH", ""), xdgDir("XDG_DATA_HOME", "NuGet/v3-cache", ".local/share/NuGet/v3-cache")),
	sharing: Locked,
	off: func(w shell.Word) bool {
		return w.Known && (w.Val == "--no-cache" || w.Val == "--no-http-cache" || strings.EqualFold(w.Val, "-NoCache") ||
			strings.EqualFold(w.Val, "-NoHttpCache"))
	},
	clears: func(c call, dir string) []string {
		switch c.sub {
		case "clear http-cache":
			return []string{dir}
		case "clear all":
			return []string{dir, nugetGlobalPackages(c.Command)}
		}
		return nil
	},
}

// nugetSub says what a command does: "restore" (explicitly or as part of
// build, publish, …), "clear http-cache" or "clear all" (`locals … --clear`),
// or "".
func nugetSub(c call) string {
	rest, ok := shell.SkipOptions(c.Argv[c.from:], "", nil)
	if !ok || len(rest) == 0 || !rest[0].Known {
		return ""
	}
	sub, dotnet := rest[0].Val, c.prog == "dotnet"
	if sub == "nuget" && len(rest) > 1 && rest[1].Known && rest[1].Val == "locals" || !dotnet && sub == "locals" {
		return nugetLocals(rest, sub)
	}
	if nugetRestores(c, rest, sub) {
		return "restore"
	}
	return ""
}

// nugetLocals reads `dotnet nuget locals KIND --clear`, `nuget locals …`.
func nugetLocals(rest []shell.Word, sub string) string {
	args := rest[1:]
	if sub == "nuget" {
		args = rest[2:]
	}
	switch {
	case !shell.HasWord(args, 0, "-c", "--clear", "-clear", "-Clear"):
	case shell.HasWord(args, 0, "http-cache"):
		return "clear http-cache"
	case shell.HasWord(args, 0, "all"):
		return "clear all"
	}
	return ""
}

// nugetRestores reports whether a command restores packages.
func nugetRestores(c call, rest []shell.Word, sub string) bool {
	if c.prog != "dotnet" {
		return sub == "restore" || sub == "install"
	}
	if !dotnetRestores[sub] {
		return false
	}
	restore := !shell.HasWord(c.Argv, c.from, "--no-restore")
	if sub == "add" {
		restore = len(rest) > 2 && rest[2].Known && rest[2].Val == "package" || len(rest) > 1 && rest[1].Known && rest[1].Val == "package"
	}
	if sub == "tool" {
		restore = len(rest) > 1 && rest[1].Known && (rest[1].Val == "install" || rest[1].Val == "restore" || rest[1].Val == "update" || rest[1].Val == "run")
	}
	if sub == "msbuild" {
		restore = shell.HasWord(c.Argv, c.from, "-restore", "/restore", "-r", "/r", "--restore")
	}
	return restore
}

// nugetGlobalPackages is the folder `locals all --clear` also empties.
func nugetGlobalPackages(c *shell.Command) string {
	if d, ok, _ := dirSetting(c.Env, "NUGET_PACKAGES", ""); ok && d != "" {
		return d
	}
	if h, ok, _ := shell.Home(c.Env, c.User); ok {
		return path.Join(h, ".nuget/packages")
	}
	return "/.nuget/packages"
}
