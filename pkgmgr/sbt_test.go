package pkgmgr

import "testing"

var sbtRoot = []string{"/root/.cache/coursier/v1 shared 0:0", "/root/.ivy2/cache locked 0:0"}

// sbtscala/scala-sbt image.
var sbtEnv = []string{"PATH=/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "JAVA_HOME=/opt/java/openjdk"}

// Shapes from the corpus (TechEmpower akka-http, http4s, snunit; sbt's own
// images) and Scala Dockerfiles.
func TestSbt(t *testing.T) { runCases(t, sbtCases) }

func init() { registerCases("sbt", sbtCases) }

var sbtCases = []tcase{{
	name: "sbt compile", in: "sbt compile", env: sbtEnv, cwd: "/app", caches: sbtRoot,
	notes: []string{"sbt: cache /root/.cache/coursier/v1 (shared)", "sbt: cache /root/.ivy2/cache (locked)"},
}, {
	name: "akka-http: update then stage", in: "sbt update && sbt -batch clean stage", env: sbtEnv, caches: sbtRoot,
}, {
	name: "assembly with a JVM option", in: "sbt -Dsbt.rootdir=true clean assembly", env: sbtEnv, caches: sbtRoot,
}, {
	name: "COURSIER_CACHE", in: "sbt stage", env: withEnv(sbtEnv, "COURSIER_CACHE=/coursier"),
	caches: []string{"/coursier shared 0:0", "/root/.ivy2/cache locked 0:0"},
}, {
	name: "SBT_OPTS sets the ivy home", in: "sbt package", env: withEnv(sbtEnv, "SBT_OPTS=-Xmx2g -Dsbt.ivy.home=/ivy"),
	caches: []string{"/ivy/cache locked 0:0", "/root/.cache/coursier/v1 shared 0:0"},
}, {
	name: "coursier CLI", in: "cs setup --yes && cs fetch org.scala-lang:scala3-library_3:3.3.1", env: sbtEnv,
	caches: []string{"/root/.cache/coursier/v1 shared 0:0"},
}, {
	name: "http4s: rm of ~/.ivy2", in: "sbt assembly && rm -Rf ~/.ivy2", env: sbtEnv,
	caches: []string{"/root/.cache/coursier/v1 shared 0:0"},
	notes:  []string{"skipped /root/.ivy2/cache: `rm -Rf ~/.ivy2` would remove the mountpoint"},
}, {
	name: "sbt image: USER sbtuser", in: "sbt sbtVersion", user: "sbtuser", env: sbtEnv,
	notes: []string{"sbt: skipped: user sbtuser not resolved yet"},
}, {
	name: "numeric user with COURSIER_CACHE", in: "sbt compile", user: "1001", env: withEnv(sbtEnv, "COURSIER_CACHE=/cs"),
	caches: []string{"/cs shared 1001:0"}, notes: []string{"sbt: skipped: ivy cache: Java's user.home of user 1001 unknown"},
}, {
	name: "version: none", in: "sbt --version", env: sbtEnv, none: true,
}}
