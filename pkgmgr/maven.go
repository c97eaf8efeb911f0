package pkgmgr

import (
	"path"
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// Maven's local repository is user.home/.m2/repository — user.home is the
// passwd entry's home (Java ignores $HOME: /root for root; for other users
// the home llbtransform resolved, see javaHome) — unless -Dmaven.repo.local (on the command line, in
// MAVEN_OPTS or in MAVEN_ARGS) says otherwise; settings.xml's
// <localRepository> we can't see. The maven image's MAVEN_CONFIG=/root/.m2
// only matters to its entrypoint, not to RUN; its settings-docker.xml
// (used with -s) points at /usr/share/maven/ref/repository. The Maven
// Wrapper (./mvnw) downloads Maven itself into
// ${MAVEN_USER_HOME:-$HOME/.m2}/wrapper/dists: mounted too. Never mounted:
// target/ and the rest of ~/.m2 (settings.xml, settings-security.xml).
//
// Freshness: the local repository also remembers maven-metadata for
// SNAPSHOTs and version ranges (updatePolicy daily). Upstream starts from
// an empty one and resolves the newest; a cached copy could pick an older
// snapshot. `-U` (--update-snapshots: always check remote metadata) is
// added, except offline. With -nsu the user asks for the opposite: left
// alone.
//
// Sharing: locked. The local repository is not safe for concurrent Maven
// processes in older Maven (no cross-process locking before resolver's
// named file locks, which are not the default).

var mavenValued = []string{
	"-f", "--file", "-s", "--settings", "-gs", "--global-settings", "-t", "--toolchains", "-pl", "--projects",
	"-rf", "--resume-from", "-P", "--activate-profiles", "-T", "--threads", "-l", "--log-file", "-b",
	"--builder", "-D", "--define", "-gt", "--global-toolchains", "-emp", "-ep",
}

// mavenRuns reports whether an mvn command line does some work (a goal or
// phase, or the pom's defaultGoal), not just --version/--help.
func mavenRuns(argv []shell.Word, from int) bool {
	rest, ok := shell.SkipOptions(argv[from:], "", mavenValued)
	if !ok || len(rest) > 0 {
		return true
	}
	return !shell.HasWord(argv, from, "-v", "--version", "-h", "--help")
}

// mavenProp finds -Dname=value in a command line and the env options.
func mavenProp(c *shell.Command, from int, name string) (string, bool, bool) {
	val, found, known := "", false, true
	scan := func(ws []string, k bool) {
		for i, w := range ws {
			v := ""
			switch {
			case strings.HasPrefix(w, "-D"+name+"="):
				v = strings.TrimPrefix(w, "-D"+name+"=")
			case (w == "-D" || w == "--define") && i+1 < len(ws) && strings.HasPrefix(ws[i+1], name+"="):
				v = strings.TrimPrefix(ws[i+1], name+"=")
			default:
				continue
			}
			val, found, known = v, true, k
		}
	}
	for _, env := range []string{"MAVEN_OPTS", "MAVEN_ARGS"} {
		if v, set, k := c.Env.Get(env); set {
			scan(strings.Fields(v), k)
		}
	}
	var ws []string
	k := true
	for _, w := range c.Argv[from:] {
		ws = append(ws, w.Text())
		if strings.Contains(w.Text(), name) && !w.Known {
			k = false
		}
	}
	scan(ws, k)
	return val, found, known
}

// mavenRepo is the local repository of a command.
func mavenRepo(c *shell.Command, from int) (string, bool, string) {
	if v, found, known := mavenProp(c, from, "maven.repo.local"); found {
		if !known {
			return "", false, "maven.repo.local is not a literal"
		}
		if !path.IsAbs(v) && c.Cwd != "" {
			v = path.Join(c.Cwd, v)
		}
		return absDir("maven.repo.local="+v, v, "")
	}
	if s, found, known := shell.FindFlag(c.Argv, from, "--settings", "-s", false); found && known && s == "/usr/share/maven/ref/settings-docker.xml" {
		return "/usr/share/maven/ref/repository", true, ""
	}
	return inHome(javaHome, c.Env, c.User, ".m2/repository")
}

func init() {
	register(manager{
		Name:          "maven",
		Programs:      []string{"mvn", "mvnw", "mvnd", "mvnDebug"},
		CacheVars:     []string{"MAVEN_USER_HOME"},
		CachePrograms: []string{"mvn"},
		Analyze:       analyzeMaven,
	})
}

func analyzeMaven(t *task) {
	var fixes []*shell.Edit
	var notes []string
	var targets []string
	for _, c := range t.commands() {
		name, from, ok := t.runs(c)
		if !ok || !mavenRuns(c.Argv, from) {
			continue
		}
		t.detect()
		repo, ok, why := mavenRepo(c, from)
		if !ok {
			t.skip(why)
			continue
		}
		if shell.HasWord(c.Argv, from, "-nsu", "--no-snapshot-updates") {
			t.skip("`" + shell.OneLine(c.Raw) + "` asks for cached snapshots (-nsu)")
			continue
		}
		t.want(c.User, repo, Locked)
		targets = append(targets, repo)
		if name == "mvnw" {
			mavenWrapperDists(t, c)
		}
		if shell.HasWord(c.Argv, from, "-U", "--update-snapshots", "-o", "--offline") {
			continue
		}
		e := shell.InsertAfter(c.Argv[from-1], "-U")
		if e == nil {
			t.block(repo, "can't add -U (fresh snapshot metadata) to `"+shell.OneLine(c.Raw)+"`")
			continue
		}
		fixes = append(fixes, e)
		notes = append(notes, "added -U to `"+shell.OneLine(c.Raw)+"` (fresh snapshot metadata)")
	}
	if len(fixes) > 0 {
		t.whenMounted(targets, fixes, notes)
	}
}

// mavenWrapperDists: the Maven Wrapper downloads Maven itself into
// ${MAVEN_USER_HOME:-~/.m2}/wrapper/dists.
func mavenWrapperDists(t *task, c *shell.Command) {
	if d, ok, _ := dirSetting(c.Env, "MAVEN_USER_HOME", ""); ok && d != "" {
		t.want(c.User, path.Join(d, "wrapper/dists"), Locked)
	} else if h, ok, why := shell.Home(c.Env, c.User); ok {
		t.want(c.User, path.Join(h, ".m2/wrapper/dists"), Locked)
	} else {
		t.skip("wrapper dists: " + why)
	}
}
