package pkgmgr

import (
	"path"
)

// Gradle keeps downloaded dependencies (caches/modules-2), transformed
// jars, generated Gradle API jars and the local build cache under
// $GRADLE_USER_HOME/caches, and the Gradle Wrapper's downloaded
// distributions under $GRADLE_USER_HOME/wrapper/dists. GRADLE_USER_HOME is
// -g/--gradle-user-home, the GRADLE_USER_HOME variable, else
// user.home/.gradle (Java's user.home: the passwd home, /root for root; see
// javaHome).
// The gradle image symlinks /root/.gradle to /home/gradle/.gradle; the
// mount follows it.
//
// Never mounted: the rest of GRADLE_USER_HOME (gradle.properties, init.d,
// daemon/, jdks/ for toolchains, native/), the project's .gradle/ and
// build/ (outputs).
//
// Sharing: locked. Gradle coordinates processes on one cache through lock
// files plus a UDP "ping" to the owning process on localhost; containers
// can't reach each other's, so concurrent builds time out waiting for the
// lock (gradle/gradle#851, #7518).

var gradleNames = map[string]bool{"gradle": true, "gradlew": true}

func gradleRuns(argv []word, from int) bool {
	rest, ok := skipOptions(argv[from:], "gpcIDPSb", []string{
		"-g", "--gradle-user-home", "-p", "--project-dir", "-c", "--settings-file", "-I", "--init-script", "-D",
		"--system-prop", "-P", "--project-prop", "--project-cache-dir", "-x", "--exclude-task", "--max-workers",
		"--console", "--warning-mode", "--include-build", "-b", "--build-file", "-M", "--write-verification-metadata",
	})
	if !ok || len(rest) > 0 {
		return true
	}
	return !hasWord(argv, from, "-v", "--version", "-h", "-?", "--help", "--stop", "--status")
}

func gradleUserHome(c *command, from int) (string, bool, string) {
	if d, found, known := findFlag(c.argv, from, "--gradle-user-home", "-g", false); found {
		if !known {
			return "", false, "--gradle-user-home is not a literal"
		}
		if !path.IsAbs(d) && c.cwd != "" {
			d = path.Join(c.cwd, d)
		}
		return absDir("--gradle-user-home "+d, d, "")
	}
	if d, ok, why := dirSetting(c.env, "GRADLE_USER_HOME", ""); !ok || d != "" {
		return d, ok, why
	}
	return inHome(javaHome, c.env, c.user, ".gradle")
}

func analyzeGradle(a *analysis) {
	for _, c := range a.cmds {
		name, from := program(c)
		if !gradleNames[name] || !gradleRuns(c.argv, from) {
			continue
		}
		a.detect("gradle")
		guh, ok, why := gradleUserHome(c, from)
		if !ok {
			a.skip("gradle", why)
			continue
		}
		a.want("gradle", c.user, path.Join(guh, "caches"), Locked)
		if name == "gradlew" {
			a.want("gradle", c.user, path.Join(guh, "wrapper/dists"), Locked)
		}
	}
}
