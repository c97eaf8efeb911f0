package pkgmgr

import "testing"

var (
	gradleRoot    = []string{"/root/.gradle/caches locked 0:0"}
	gradlewCaches = []string{"/root/.gradle/caches locked 0:0", "/root/.gradle/wrapper/dists locked 0:0"}
	// gradle:8-jdk21 image
	gradleEnv = []string{"PATH=/opt/java/openjdk/bin:/opt/gradle/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"JAVA_HOME=/opt/java/openjdk", "GRADLE_HOME=/opt/gradle"}
)

// Shapes from the corpus (TechEmpower ktor/micronaut/vertx, opentelemetry
// ad service) and Gradle image docs.
func TestGradle(t *testing.T) { runCases(t, gradleCases) }

func init() { registerCases("gradle", gradleCases) }

var gradleCases = []tcase{{
	name: "gradle image: build --no-daemon", in: "gradle build --no-daemon", env: gradleEnv, cwd: "/home/gradle/src",
	caches: gradleRoot, notes: []string{"gradle: cache /root/.gradle/caches (locked)"},
}, {
	name: "./gradlew also caches its distributions", in: "./gradlew bootJar --no-daemon", env: gradleEnv, caches: gradlewCaches,
}, {
	name: "opentelemetry: chmod then gradlew", in: "chmod +x ./gradlew && ./gradlew installDist -PprotoSourceDir=./proto",
	env: gradleEnv, caches: gradlewCaches,
}, {
	name: "GRADLE_USER_HOME", in: "gradle shadowJar --offline", env: withEnv(gradleEnv, "GRADLE_USER_HOME=/cache/gradle"),
	caches: []string{"/cache/gradle/caches locked 0:0"},
}, {
	name: "-g", in: "gradle -g /gradle-home build", env: gradleEnv, caches: []string{"/gradle-home/caches locked 0:0"},
}, {
	name: "sh gradlew", in: "sh gradlew clean build -x test", env: gradleEnv, caches: gradlewCaches,
}, {
	name: "numeric user: Java's home unknown", in: "gradle build", user: "1000", env: gradleEnv,
	notes: []string{"gradle: skipped: Java's user.home of user 1000 unknown"},
}, {
	name: "numeric user with GRADLE_USER_HOME", in: "gradle build", user: "1000:1000",
	env: withEnv(gradleEnv, "GRADLE_USER_HOME=/home/gradle/.gradle"), caches: []string{"/home/gradle/.gradle/caches locked 1000:1000"},
}, {
	name: "rm of ~/.gradle would take the mountpoint", in: "./gradlew build && rm -rf ~/.gradle", env: gradleEnv,
	notes: []string{"skipped /root/.gradle/caches: `rm -rf ~/.gradle` would remove the mountpoint"},
}, {
	name: "version and stop: none", in: "gradle --version && ./gradlew --stop", env: gradleEnv, none: true,
}}
