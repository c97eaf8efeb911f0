package pkgmgr

import (
	"path"
	"strings"
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

func nugetHTTPCache(c *command) (string, bool, string) {
	if d, ok, why := dirSetting(c.env, "NUGET_HTTP_CACHE_PATH", ""); !ok || d != "" {
		return d, ok, why
	}
	return userDir(c.env, c.user, "XDG_DATA_HOME", "NuGet/v3-cache", ".local/share/NuGet/v3-cache")
}

// nugetGlobalPackages is the folder `locals all --clear` also empties.
func nugetGlobalPackages(c *command) string {
	if d, ok, _ := dirSetting(c.env, "NUGET_PACKAGES", ""); ok && d != "" {
		return d
	}
	if h, ok, _ := home(c.env, c.user); ok {
		return path.Join(h, ".nuget/packages")
	}
	return "/.nuget/packages"
}

func analyzeNuget(a *analysis) {
	var uses []offUse
	for _, c := range a.cmds {
		name, from := program(c)
		if name != "dotnet" && name != "nuget" && name != "nuget.exe" {
			continue
		}
		rest, ok := skipOptions(c.argv[from:], "", nil)
		if !ok || len(rest) == 0 || !rest[0].known {
			continue
		}
		sub := rest[0].val
		dir, dok, why := nugetHTTPCache(c)
		if sub == "nuget" && len(rest) > 1 && rest[1].known && rest[1].val == "locals" || name != "dotnet" && sub == "locals" {
			args := rest[1:]
			if sub == "nuget" {
				args = rest[2:]
			}
			if !dok || !hasWord(args, 0, "-c", "--clear", "-clear", "-Clear") {
				continue
			}
			switch {
			case hasWord(args, 0, "http-cache"):
				a.addCleanup("nuget", c, cleanItem{word: -1, targets: []string{dir}})
			case hasWord(args, 0, "all"):
				a.addCleanup("nuget", c, cleanItem{word: -1, targets: []string{dir, nugetGlobalPackages(c)}})
			}
			continue
		}
		restore := false
		switch {
		case name == "dotnet" && dotnetRestores[sub]:
			restore = !hasWord(c.argv, from, "--no-restore")
			if sub == "add" {
				restore = len(rest) > 2 && rest[2].known && rest[2].val == "package" || len(rest) > 1 && rest[1].known && rest[1].val == "package"
			}
			if sub == "tool" {
				restore = len(rest) > 1 && rest[1].known && (rest[1].val == "install" || rest[1].val == "restore" || rest[1].val == "update" || rest[1].val == "run")
			}
			if sub == "msbuild" {
				restore = hasWord(c.argv, from, "-restore", "/restore", "-r", "/r", "--restore")
			}
		case name != "dotnet" && (sub == "restore" || sub == "install"):
			restore = true
		}
		if !restore {
			continue
		}
		a.detect("nuget")
		if !dok {
			a.skip("nuget", why)
			continue
		}
		var off []word
		for _, w := range toolWords(c.argv, from, 0, false, nil) {
			if w.known && (w.val == "--no-cache" || w.val == "--no-http-cache" || strings.EqualFold(w.val, "-NoCache") || strings.EqualFold(w.val, "-NoHttpCache")) {
				off = append(off, w)
			}
		}
		a.want("nuget", c.user, dir, Locked)
		uses = append(uses, offUse{c: c, target: dir, words: off})
	}
	if len(uses) > 0 {
		a.dropOffSwitches("nuget", nil, uses)
	}
}
