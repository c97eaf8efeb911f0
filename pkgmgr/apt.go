package pkgmgr

import (
	"strings"

	"github.com/autocache/autocache/internal/fspath"
	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

const (
	aptCache = "/var/cache/apt"
	aptLists = "/var/lib/apt/lists"
	// Debian/Ubuntu images ship this; it deletes .debs after every install.
	aptDockerClean = "/etc/apt/apt.conf.d/docker-clean"
	aptKeepDebs    = "/etc/apt/apt.conf.d/zz-autocache-keep-debs"
)

// The `apt` binary deletes downloaded .debs by default; this keeps them.
// aptDockerCleanConf replaces the image's docker-clean for the step: it keeps
// docker-clean's settings that stop apt writing its binary package caches,
// and drops the hooks that delete downloaded .debs (the cache mount keeps
// them out of the image instead).
const aptDockerCleanConf = "Dir::Cache::pkgcache \"\";\nDir::Cache::srcpkgcache \"\";\n"

// With the lists cached, other sources' lists stay: `apt-get update`
// deletes every file in lists/ that its current sources don't name
// (apt-pkg/update.cc, APT::List-Cleanup), so bookworm and trixie builds on
// one platform deleted each other's lists every time. apt reads the index
// files of its configured sources only (named by URI, suite in the name).
// It does scan lists/ for Translation-* names to add description
// languages (apt.conf(5), Acquire::Languages), which it then fetches for
// its own sources; Docker's Debian images set Acquire::Languages "none",
// and those files were there at the start of an update before, too.
const aptKeepListsConf = "APT::List-Cleanup \"false\";\n"

const aptKeepDebsConf = "Binary::apt::APT::Keep-Downloaded-Packages \"true\";\nAPT::Keep-Downloaded-Packages \"true\";\n"

// Verbs that download packages into /var/cache/apt/archives.
var aptDownloads = map[string]bool{
	"install": true, "upgrade": true, "dist-upgrade": true, "full-upgrade": true, "safe-upgrade": true,
	"reinstall": true, "download": true, "source": true, "build-dep": true, "satisfy": true,
}

// aptVerb is the first operand of an apt command line.
func aptVerb(args []shell.Word) string {
	rest, ok := shell.SkipOptions(args, "acoPtFSw", []string{
		"--option", "--config-file", "--target-release", "--default-release", "--host-architecture",
		"--build-profiles",
	})
	if !ok || len(rest) == 0 || !rest[0].Known {
		return ""
	}
	return rest[0].Val
}

func init() {
	register(manager{
		Name: "apt",
		// xx-apt* are tonistiigi/xx's cross-compiling wrappers around apt-get.
		Programs:      []string{"apt-get", "apt", "aptitude", "xx-apt-get", "xx-apt"},
		CachePrograms: []string{"apt-config"},
		// `apt-get update` deletes every list file its current sources
		// don't name (APT::List-Cleanup), so two platforms would delete
		// each other's lists; the archives are per-arch .debs behind a
		// locked mount, so a multi-platform build would run its apt steps
		// one platform at a time.
		PerPlatform: true,
		Local:       true,
		Skeleton: map[string][]string{
			aptCache: {"archives", "archives/lock", "archives/partial/"},
			aptLists: {"auxfiles/", "lock", "partial/"},
		},
		Analyze: analyzeApt,
	})
}

func analyzeApt(t *task) {
	var downloads, updates []*shell.Command
	lastListsRemoval := -1
	for _, c := range t.commands() {
		if !t.is(c) {
			continue
		}
		switch v := aptVerb(c.Argv[1:]); {
		case aptDownloads[v]:
			downloads = append(downloads, c)
		case v == "update":
			updates = append(updates, c)
		case v == "clean" || v == "autoclean" || v == "auto-clean":
			t.clears(c, aptCache)
		case v == "dist-clean" || v == "distclean": // clean + remove the lists
			t.clears(c, aptCache, aptLists)
			lastListsRemoval = max(lastListsRemoval, c.Seq)
		}
	}
	if len(downloads) == 0 {
		return
	}
	t.detect()
	for _, c := range downloads {
		if c.User.Kind == shell.NumericUser {
			// apt needs root; without sudo this step fails upstream too.
			t.skip("`" + shell.OneLine(c.Raw) + "` runs as user " + c.User.Spec)
			return
		}
		t.want(c.User, aptCache, Locked)
	}
	// Lists are cached only where the step throws them away after an
	// update anyway; elsewhere later steps may rely on them being there.
	for _, r := range t.removals() {
		for _, i := range r.paths {
			if p, ok := absPattern(r.cmd.Argv[i], r.cmd.Cwd); ok && (patReaches(p, aptLists) || p == aptLists+"/*") {
				lastListsRemoval = max(lastListsRemoval, r.cmd.Seq)
			}
		}
	}
	var update *shell.Command
	for _, c := range updates {
		if c.User.Kind != shell.NumericUser && (update == nil || c.Seq < update.Seq) {
			update = c
		}
	}
	if update != nil && lastListsRemoval > update.Seq {
		t.want(update.User, aptLists, Locked)
	} else if update != nil {
		t.note("not caching " + aptLists + ": the step keeps them")
	}
	t.afterMount(func(m mounted) { aptFiles(t, m) })
}

// aptFiles shadows docker-clean and keeps downloaded .debs for a step with
// the archives mounted.
func aptFiles(t *task, m mounted) {
	if !m.has(aptCache) {
		return
	}
	if why := aptFilesBlocked(t); why != "" {
		m.note("not shadowing docker-clean: " + why)
		return
	}
	conf := aptDockerCleanConf
	if m.has(aptLists) {
		conf += aptKeepListsConf
	}
	m.file(aptDockerClean, []byte(conf))
	m.file(aptKeepDebs, []byte(aptKeepDebsConf))
	m.note("shadowed " + aptDockerClean + ", kept downloaded .debs")
	if m.has(aptLists) {
		m.note("kept other sources' lists (APT::List-Cleanup off)")
	}
}

// aptFilesBlocked says why the read-only apt.conf.d binds would break the
// step (it edits or removes those files itself), or "".
func aptFilesBlocked(t *task) string {
	for _, arg := range t.step().Args {
		if strings.Contains(arg, "docker-clean") || strings.Contains(arg, "zz-autocache") {
			return "the step handles it itself"
		}
	}
	for _, m := range t.step().Mounts {
		if fspath.Within(aptDockerClean, cleanAbs(m)) || fspath.Within(aptKeepDebs, cleanAbs(m)) {
			return "the step mounts " + m
		}
	}
	for _, c := range t.commands() {
		if !modifiers[c.Name] {
			continue
		}
		for _, w := range c.Argv[1:] {
			p, ok := absPattern(w, c.Cwd)
			if ok && (patReaches(p, aptDockerClean) || patReaches(p, aptKeepDebs)) {
				return "`" + shell.OneLine(c.Raw) + "` touches " + w.Raw
			}
		}
	}
	return ""
}

// Commands that may write or remove the files they are given.
var modifiers = map[string]bool{
	"rm": true, "mv": true, "cp": true, "ln": true, "sed": true, "tee": true, "truncate": true, "touch": true,
	"chmod": true, "chown": true, "install": true, "rsync": true, "tar": true, "unlink": true,
}
