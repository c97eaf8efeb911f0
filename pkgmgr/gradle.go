package pkgmgr

import "github.com/autocache/autocache/pkgmgr/internal/shell"

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

func gradleRuns(argv []shell.Word, from int) bool {
	rest, ok := shell.SkipOptions(argv[from:], "gpcIDPSb", []string{
		"-g", "--gradle-user-home", "-p", "--project-dir", "-c", "--settings-file", "-I", "--init-script", "-D",
		"--system-prop", "-P", "--project-prop", "--project-cache-dir", "-x", "--exclude-task", "--max-workers",
		"--console", "--warning-mode", "--include-build", "-b", "--build-file", "-M", "--write-verification-metadata",
	})
	if !ok || len(rest) > 0 {
		return true
	}
	return !shell.HasWord(argv, from, "-v", "--version", "-h", "-?", "--help", "--stop", "--status")
}

func init() {
	register(manager{
		Name:          "gradle",
		Programs:      []string{"gradle", "gradlew"},
		CacheVars:     []string{"GRADLE_USER_HOME"},
		CachePrograms: []string{"gradle"},
		Analyze:       func(t *task) { gradleCLI.run(t) },
	})
}

var gradleCLI = cli{
	sub: func(c call) string {
		if gradleRuns(c.Argv, c.from) {
			return "run"
		}
		return ""
	},
	fetches: map[string]bool{"run": true},
	cache: firstOf(flagDir("--gradle-user-home", "-g", true), envDir("GRADLE_USER_HOME", ""),
		homeDir(javaHome, ".gradle")),
	mounts: func(c call, _ string) []mount {
		if c.prog == "gradlew" {
			return []mount{{dir: "caches"}, {dir: "wrapper/dists"}}
		}
		return []mount{{dir: "caches"}}
	},
	sharing: Locked,
}
