package pkgserver

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strings"
)

// The Maven side is a Maven 2 layout repository at /maven/ holding
// acpkg:acpkg-001 … acpkg:acpkg-060, version 1.0.0, each a jar with its pom:
//
//	/maven/acpkg/acpkg-001/1.0.0/acpkg-001-1.0.0.pom   (+ .sha1 .md5 .sha256 .sha512)
//	/maven/acpkg/acpkg-001/1.0.0/acpkg-001-1.0.0.jar   (+ the same checksums)
//	/maven/acpkg/acpkg-001/maven-metadata.xml          (+ .sha1 .md5)
//
// Use it as a mirror (settings.xml <mirror><mirrorOf>…</mirrorOf><url>
// http://127.0.0.1:5960/maven/</url>) or a <repository>; Maven 3.8's
// blocker of plain-http repositories exempts 127.0.0.1. Everything else is
// 404, which Maven takes as "not in this repository". Release artifacts are
// served as cacheable for a year, metadata for 30 minutes.
const (
	mavenGroup         = "acpkg"
	mavenArtifactCache = "public, max-age=31536000"
	mavenMetadataCache = "public, max-age=1800"
)

var mavenChecksums = map[string]func() hash.Hash{".sha1": sha1.New, ".md5": md5.New, ".sha256": sha256.New, ".sha512": sha512.New}

func (s *Server) handleMaven(w http.ResponseWriter, r *http.Request) {
	if !getOrHead(w, r) {
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/maven/"), "/")
	if len(parts) < 3 || parts[0] != mavenGroup {
		http.NotFound(w, r)
		return
	}
	i, ok := pkgIndex(parts[1])
	if !ok || parts[1] != PackageName(i) {
		http.NotFound(w, r)
		return
	}
	file := parts[len(parts)-1]
	sumExt := ""
	for ext := range mavenChecksums {
		if strings.HasSuffix(file, ext) {
			sumExt, file = ext, strings.TrimSuffix(file, ext)
		}
	}
	base := PackageName(i) + "-" + Version
	var (
		b     *blob
		err   error
		cache = mavenArtifactCache
		kind  string
	)
	switch {
	case len(parts) == 3 && file == "maven-metadata.xml" && sumExt != ".sha256" && sumExt != ".sha512":
		b, cache = mavenMetadata(i), mavenMetadataCache
	case len(parts) == 4 && parts[2] == Version && file == base+".pom":
		b = mavenPom(i)
	case len(parts) == 4 && parts[2] == Version && file == base+".jar":
		b, err = mavenJar(i)
		kind = KindMaven
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		serverError(w, err)
		return
	}
	if sumExt != "" {
		h := mavenChecksums[sumExt]()
		h.Write(b.data)
		b, kind = newBlob("text/plain", []byte(hex.EncodeToString(h.Sum(nil)))), ""
	}
	s.serve(w, r, b, cache, kind)
}

func mavenPom(i int) *blob {
	b, _ := artifacts.get("maven/"+PackageName(i)+".pom", func() (*blob, error) {
		return newBlob("text/xml", []byte(mavenPomXML(i))), nil
	})
	return b
}

func mavenPomXML(i int) string {
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>%s</groupId>
  <artifactId>%s</artifactId>
  <version>%s</version>
  <packaging>jar</packaging>
  <description>autocache test package %03d</description>
</project>
`, mavenGroup, PackageName(i), Version, i)
}

func mavenMetadata(i int) *blob {
	b, _ := artifacts.get("maven/"+PackageName(i)+"/maven-metadata.xml", func() (*blob, error) {
		return newBlob("text/xml", []byte(fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<metadata>
  <groupId>%s</groupId>
  <artifactId>%s</artifactId>
  <versioning>
    <latest>%[3]s</latest>
    <release>%[3]s</release>
    <versions>
      <version>%[3]s</version>
    </versions>
    <lastUpdated>%s</lastUpdated>
  </versioning>
</metadata>
`, mavenGroup, PackageName(i), Version, epoch.Format("20060102150405")))), nil
	})
	return b
}

// mavenJar builds acpkg-NNN-1.0.0.jar as maven-jar-plugin lays one out:
// the manifest, the pom and pom.properties under META-INF/maven/, and the
// payload as a resource.
func mavenJar(i int) (*blob, error) {
	return artifacts.get("maven/"+PackageName(i)+".jar", func() (*blob, error) {
		name := PackageName(i)
		meta := "META-INF/maven/" + mavenGroup + "/" + name + "/"
		jar, err := zipStore([]archiveFile{
			{"META-INF/MANIFEST.MF", []byte("Manifest-Version: 1.0\r\nCreated-By: autocache-pkgserver\r\n\r\n")},
			{meta + "pom.properties", []byte(fmt.Sprintf("artifactId=%s\ngroupId=%s\nversion=%s\n", name, mavenGroup, Version))},
			{meta + "pom.xml", []byte(mavenPomXML(i))},
			{mavenGroup + "/" + strings.ReplaceAll(name, "-", "_") + "/payload.bin", payload("maven/" + name)},
		})
		if err != nil {
			return nil, err
		}
		return newBlob("application/java-archive", jar), nil
	})
}
