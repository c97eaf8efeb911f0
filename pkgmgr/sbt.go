package pkgmgr

import (
	"path"
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// sbt (1.3+) resolves through Coursier, whose cache is COURSIER_CACHE, or
// -Dcoursier.cache, else <user.home>/.cache/coursier/v1 on Linux (sbt/sbt
// #5120; a pre-existing ~/.coursier/cache/v1 would be used instead, and the
// mount then merely unused). Older sbt and the sbt launcher use Ivy:
// <sbt.ivy.home or user.home/.ivy2>/cache. The coursier CLI (cs) shares the
// Coursier cache. user.home is Java's (javaHome): /root for root.
//
// Never mounted: ~/.ivy2/local (publishLocal output), ~/.sbt (boot
// directory with compiled compiler bridges, global plugins), the
// project's target/ and project/target/. The sbt images warm ~/.cache and
// ~/.ivy2 in the image: the mount hides that for the step (a first build
// downloads again), the image keeps it.
//
// Sharing: Coursier's cache is shared — Coursier takes a file lock per
// artifact while it downloads (made for concurrent JVMs; file locks work
// across containers on one filesystem). Ivy's cache is locked: Ivy does
// not lock by default.

func jvmProp(c *shell.Command, name string) (string, bool, bool) {
	val, found, known := "", false, true
	for _, env := range []string{"SBT_OPTS", "JAVA_OPTS", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS"} {
		v, set, k := c.Env.Get(env)
		if !set {
			continue
		}
		for _, w := range strings.Fields(v) {
			if strings.HasPrefix(w, "-D"+name+"=") {
				val, found, known = strings.TrimPrefix(w, "-D"+name+"="), true, k
			}
		}
	}
	for _, w := range c.Argv[1:] {
		t := w.Text()
		if strings.HasPrefix(t, "-D"+name+"=") || strings.HasPrefix(t, "-J-D"+name+"=") {
			_, v, _ := strings.Cut(w.Val, "=")
			val, found, known = v, true, w.Known
		}
	}
	return val, found, known
}

func coursierCache(c *shell.Command) (string, bool, string) {
	if v, found, known := jvmProp(c, "coursier.cache"); found {
		if !known {
			return "", false, "coursier.cache is not a literal"
		}
		return absDir("coursier.cache="+v, v, "")
	}
	if d, ok, why := dirSetting(c.Env, "COURSIER_CACHE", ""); !ok || d != "" {
		return d, ok, why
	}
	return inHome(javaHome, c.Env, c.User, ".cache/coursier/v1")
}

func ivyCache(c *shell.Command) (string, bool, string) {
	if v, found, known := jvmProp(c, "sbt.ivy.home"); found {
		if !known {
			return "", false, "sbt.ivy.home is not a literal"
		}
		d, ok, why := absDir("sbt.ivy.home="+v, v, "")
		return path.Join(d, "cache"), ok, why
	}
	return inHome(javaHome, c.Env, c.User, ".ivy2/cache")
}

var coursierDownloads = map[string]bool{
	"fetch": true, "launch": true, "bootstrap": true, "resolve": true, "install": true, "setup": true,
}

func init() {
	register(manager{
		Name:      "sbt",
		Programs:  []string{"sbt", "cs", "coursier"},
		CacheVars: []string{"COURSIER_CACHE"},
		Analyze:   analyzeSbt,
	})
}

func analyzeSbt(t *task) {
	for _, c := range t.commands() {
		name, from, ok := t.runs(c)
		if !ok {
			continue
		}
		ivy := name == "sbt"
		if ivy && sbtOnlyAsks(c, from) || !ivy && !coursierFetches(c, from) {
			continue
		}
		t.detect()
		if d, ok, why := coursierCache(c); ok {
			t.want(c.User, d, Shared)
		} else {
			t.skip("coursier cache: " + why)
		}
		if !ivy {
			continue
		}
		if d, ok, why := ivyCache(c); ok {
			t.want(c.User, d, Locked)
		} else {
			t.skip("ivy cache: " + why)
		}
	}
}

// sbtOnlyAsks: `sbt --version` and the like run nothing.
func sbtOnlyAsks(c *shell.Command, from int) bool {
	rest, ok := shell.SkipOptions(c.Argv[from:], "", []string{"--sbt-version", "--java-home", "-java-home", "--sbt-dir", "--ivy", "-ivy"})
	return ok && len(rest) == 0 && shell.HasWord(c.Argv, from, "--version", "-V", "--help", "-h", "--numeric-version", "--script-version")
}

// coursierFetches: `cs fetch|launch|…` downloads.
func coursierFetches(c *shell.Command, from int) bool {
	rest, ok := shell.SkipOptions(c.Argv[from:], "", nil)
	return ok && len(rest) > 0 && rest[0].Known && coursierDownloads[rest[0].Val]
}
