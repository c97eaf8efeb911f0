package pkgmgr

import (
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// What the RPM family shares: dnf.go (dnf, microdnf, tdnf) and yum.go are
// its managers, and their headers say why each does what it does.

// rpmTool is one RPM-family program.
type rpmTool struct {
	caches []string // cachedirs it may use
	flags  []string // what the command line needs when the cache is mounted
	// cleanAll are what `clean all` empties beside the caches.
	cleanAll []string
	// gate says whether a downloading command may get flags, and why (for
	// the note; "" = always); ok=false skips the step, with a note.
	gate func(t *task, c *shell.Command) (why string, ok bool)
}

// Subcommands that download packages. Group and module ones are matched
// on their second word.
var rpmDownloads = map[string]bool{
	"install": true, "in": true, "reinstall": true, "rei": true, "upgrade": true, "update": true, "up": true,
	"distro-sync": true, "dsync": true, "distrosync": true, "dist-upgrade": true, "downgrade": true, "dg": true,
	"localinstall": true, "localupdate": true, "upgrade-minimal": true, "update-minimal": true, "up-min": true,
	"groupinstall": true, "groupupdate": true, "groupupgrade": true, "builddep": true, "build-dep": true,
	"swap": true, "download": true, "group install": true, "group upgrade": true, "group update": true,
	"groups install": true, "module install": true, "module update": true, "module upgrade": true,
	"mod install": true,
}

var rpmValued = []string{
	"-c", "--config", "--installroot", "--releasever", "--setopt", "-d", "--debuglevel", "-e", "--errorlevel",
	"--enablerepo", "--disablerepo", "--repo", "--repoid", "-x", "--exclude", "--rpmverbosity", "--color",
	"--forcearch", "--downloaddir", "--destdir", "--comment", "--advisory", "--advisories", "--bz", "--cve",
	"--sec-severity", "--secseverity", "--repofrompath", "--enableplugin", "--disableplugin", "--excludepkgs",
	"--installonly-limit", "--use-host-config", "--from-repo", "--releasever-major", "--releasever-minor",
}

// Arguments of `clean` that only touch the cachedir.
var rpmCleanKinds = map[string]bool{
	"all": true, "packages": true, "metadata": true, "dbcache": true, "expire-cache": true, "headers": true,
	"sqlite": true, "plugins": true,
}

// rpmSub returns a command's subcommand ("install", "group install") and
// the index of its last word.
func rpmSub(argv []shell.Word) (string, int) {
	rest, ok := shell.SkipOptions(argv[1:], "cdex", rpmValued)
	if !ok || len(rest) == 0 || !rest[0].Known {
		return "", -1
	}
	at := len(argv) - len(rest)
	sub := rest[0].Val
	switch sub {
	case "group", "groups", "module", "mod":
		if r2, ok := shell.SkipOptions(rest[1:], "", nil); ok && len(r2) > 0 && r2[0].Known {
			return sub + " " + r2[0].Val, len(argv) - len(r2)
		}
	}
	return sub, at
}

// rpmHasSetopt reports whether the command sets option (e.g. "keepcache").
func rpmHasSetopt(argv []shell.Word, option string) bool {
	for i := 1; i < len(argv); i++ {
		if v, n, _ := shell.FlagAt(argv, i, "--setopt", "", false); n > 0 {
			if k, _, ok := strings.Cut(v, "="); ok && k == option {
				return true
			}
			i += n - 1
		}
	}
	return false
}

// rpmDownload is a command that downloads packages into tool's caches.
type rpmDownload struct {
	c    *shell.Command
	tool rpmTool
	why  string // what allows the flags, for the note ("" = always allowed)
}

// rpmClean is a `clean` command and what it empties.
type rpmClean struct {
	c       *shell.Command
	targets []string
}

// analyzeRpm reads the commands of one RPM-family manager, whose programs
// are tools. It returns the manager's `clean` commands.
func analyzeRpm(t *task, tools map[string]rpmTool) []rpmClean {
	var downloads []rpmDownload
	var cleans []rpmClean
	for _, c := range t.commands() {
		tool, ok := tools[c.Name]
		if !ok {
			continue
		}
		sub, at := rpmSub(c.Argv)
		switch {
		case rpmDownloads[sub]:
			if _, found, _ := shell.FindFlag(c.Argv, 1, "--installroot", "", false); found {
				continue // the cachedir is under the other root: left alone
			}
			t.detect()
			if c.User.Kind == shell.NumericUser {
				t.skip("`" + shell.OneLine(c.Raw) + "` runs as user " + c.User.Spec) // needs root
				return cleans
			}
			why := ""
			if tool.gate != nil {
				if why, ok = tool.gate(t, c); !ok {
					return cleans
				}
			}
			rpmBlocks(t, c, tool)
			downloads = append(downloads, rpmDownload{c, tool, why})
			for _, target := range tool.caches {
				t.want(c.User, target, Locked)
			}
		case sub == "clean":
			if targets := rpmCleaned(c, at, tool); targets != nil {
				t.clears(c, targets...)
				cleans = append(cleans, rpmClean{c, targets})
			}
		}
	}
	if len(downloads) > 0 {
		rpmFlags(t, downloads)
	}
	return cleans
}

// rpmBlocks blocks the caches of a command that runs from the image's
// cache or sets its own.
func rpmBlocks(t *task, c *shell.Command, tool rpmTool) {
	if shell.HasWord(c.Argv, 1, "-C", "--cacheonly") {
		for _, target := range tool.caches {
			t.block(target, "`"+shell.OneLine(c.Raw)+"` runs from the image's cache only")
		}
	}
	if _, found, _ := shell.FindFlag(c.Argv, 1, "--setopt", "", false); !found {
		return
	}
	for i := 1; i < len(c.Argv); i++ {
		if v, n, _ := shell.FlagAt(c.Argv, i, "--setopt", "", false); n > 0 &&
			(strings.HasPrefix(v, "cachedir=") || strings.HasPrefix(v, "system_cachedir=")) {
			for _, target := range tool.caches {
				t.block(target, "`"+shell.OneLine(c.Raw)+"` sets its own cachedir")
			}
		}
	}
}

// rpmCleaned is what `clean KINDS` empties, or nil when it touches more
// than the cachedir (`clean rpmdb` and the like).
func rpmCleaned(c *shell.Command, at int, tool rpmTool) []string {
	kinds := c.Argv[at+1:]
	if len(kinds) == 0 {
		return nil
	}
	for _, k := range kinds {
		if !k.Known || !rpmCleanKinds[k.Val] {
			return nil
		}
	}
	targets := tool.caches
	if shell.HasWord(kinds, 0, "all") {
		targets = append(targets[:len(targets):len(targets)], tool.cleanAll...)
	}
	return targets
}

// rpmFlags adds, once a cache is mounted, the flags each downloading
// command lacks.
func rpmFlags(t *task, downloads []rpmDownload) {
	var fixes []*shell.Edit
	var notes, targets []string
	for _, d := range downloads {
		targets = append(targets, d.tool.caches...)
		missing := rpmMissing(d)
		if len(missing) == 0 {
			continue
		}
		text := strings.Join(missing, " ")
		e := shell.InsertAfter(d.c.Argv[0], text)
		if e == nil {
			for _, target := range d.tool.caches {
				t.block(target, "can't add "+text+" to `"+shell.OneLine(d.c.Raw)+"`")
			}
			continue
		}
		fixes = append(fixes, e)
		notes = append(notes, "added "+text+" to `"+shell.OneLine(d.c.Raw)+"`"+d.why)
	}
	t.whenMounted(targets, fixes, notes)
}

// rpmMissing are the tool's flags the command doesn't have yet.
func rpmMissing(d rpmDownload) []string {
	var missing []string
	for _, f := range d.tool.flags {
		name, val, _ := strings.Cut(f, "=")
		switch {
		case name == "--setopt" || name == "'--setopt":
			k, _, _ := strings.Cut(val, "=")
			if rpmHasSetopt(d.c.Argv, k) {
				continue
			}
		case shell.HasWord(d.c.Argv, 1, f):
			continue
		}
		missing = append(missing, f)
	}
	return missing
}
