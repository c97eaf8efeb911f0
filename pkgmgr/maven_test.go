package pkgmgr

import "testing"

var (
	m2Root = []string{"/root/.m2/repository locked 0:0"}
	// maven:3-eclipse-temurin-21 image
	mavenEnv = []string{"PATH=/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"JAVA_HOME=/opt/java/openjdk", "MAVEN_HOME=/usr/share/maven", "MAVEN_CONFIG=/root/.m2"}
)

// Shapes from the corpus (awesome-compose spring, hapi-fhir, petclinic,
// TechEmpower spring/quarkus) and Maven image docs.
func TestMaven(t *testing.T) { runCases(t, mavenCases) }

func init() { registerCases("maven", mavenCases) }

var mavenCases = []tcase{{
	name: "package, -U for fresh snapshot metadata", in: "mvn -B package -DskipTests", env: mavenEnv, cwd: "/app",
	out: "mvn -U -B package -DskipTests", caches: m2Root,
	notes: []string{"maven: cache /root/.m2/repository (locked)", "maven: added -U to `mvn -B package -DskipTests`"},
}, {
	name: "awesome-compose: go-offline", in: "mvn dependency:go-offline", env: mavenEnv,
	out: "mvn -U dependency:go-offline", caches: m2Root,
}, {
	name: "petclinic: ./mvnw also caches its Maven download", in: "./mvnw -B -q package", env: mavenEnv,
	out: "./mvnw -U -B -q package", caches: []string{"/root/.m2/repository locked 0:0", "/root/.m2/wrapper/dists locked 0:0"},
}, {
	name: "offline: no -U", in: "mvn -o package", env: mavenEnv, caches: m2Root,
}, {
	name: "already -U", in: "mvn -U clean verify", env: mavenEnv, caches: m2Root,
}, {
	name: "-Dmaven.repo.local", in: "mvn -Dmaven.repo.local=/cache/m2 package", env: mavenEnv,
	out: "mvn -U -Dmaven.repo.local=/cache/m2 package", caches: []string{"/cache/m2 locked 0:0"},
}, {
	name: "MAVEN_OPTS with the repository", in: "mvn package", env: withEnv(mavenEnv, "MAVEN_OPTS=-Xmx1g -Dmaven.repo.local=/opt/m2"),
	out: "mvn -U package", caches: []string{"/opt/m2 locked 0:0"},
}, {
	name: "the image's settings-docker.xml", in: "mvn -s /usr/share/maven/ref/settings-docker.xml package", env: mavenEnv,
	out: "mvn -U -s /usr/share/maven/ref/settings-docker.xml package", caches: []string{"/usr/share/maven/ref/repository locked 0:0"},
}, {
	name: "sh mvnw", in: "sh mvnw package", env: mavenEnv,
	out: "sh mvnw -U package", caches: []string{"/root/.m2/repository locked 0:0", "/root/.m2/wrapper/dists locked 0:0"},
}, {
	name: "quarkus: USER 185, Java's home unknown", in: "./mvnw package -DskipTests", user: "185", env: mavenEnv,
	notes: []string{"maven: skipped: Java's user.home of user 185 unknown"},
}, {
	name: "USER 185 resolved (HOME from its passwd entry)", in: "./mvnw package -DskipTests", user: "185:0",
	env: withEnv(mavenEnv, "HOME=/home/jboss"), out: "./mvnw -U package -DskipTests",
	caches: []string{"/home/jboss/.m2/repository locked 185:0", "/home/jboss/.m2/wrapper/dists locked 185:0"},
}, {
	name: "-nsu asks for cached snapshots", in: "mvn -nsu package", env: mavenEnv,
	notes: []string{"maven: skipped: `mvn -nsu package` asks for cached snapshots"},
}, {
	name: "exec form: -U can't be added", argv: []string{"mvn", "package"}, env: mavenEnv,
	notes: []string{"skipped /root/.m2/repository: can't add -U"},
}, {
	name: "rm of ~/.m2 would take the mountpoint", in: "mvn package && rm -rf ~/.m2", env: mavenEnv,
	notes: []string{"skipped /root/.m2/repository: `rm -rf ~/.m2` would remove the mountpoint"},
}, {
	name: "version: none", in: "mvn --version && mvn -v", env: mavenEnv, none: true,
}}
