package pkgserver

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// TestMavenProtocol checks the repository layout the way Maven walks it:
// pom and its checksums, jar and its checksums, the artifact's metadata.
// (The real mvn cannot run in this unit test: it needs its plugins from
// Maven Central, which this machine cannot reach; the e2e test runs it in
// an image whose plugins come from Debian's packages.)
func TestMavenProtocol(t *testing.T) {
	s, base := start(t)
	dir := base + "/maven/acpkg/acpkg-004/"
	code, hdr, pom := get(t, "GET", dir+"1.0.0/acpkg-004-1.0.0.pom")
	if code != 200 || !strings.Contains(string(pom), "<artifactId>acpkg-004</artifactId>") || hdr.Get("Content-Type") != "text/xml" {
		t.Errorf("pom: %d %v\n%s", code, hdr, pom)
	}
	code, hdr, jar := get(t, "GET", dir+"1.0.0/acpkg-004-1.0.0.jar")
	if code != 200 || hdr.Get("Cache-Control") != mavenArtifactCache || hdr.Get("ETag") == "" {
		t.Fatalf("jar: %d %v", code, hdr)
	}
	zr, err := zip.NewReader(bytes.NewReader(jar), int64(len(jar)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if want := "[META-INF/MANIFEST.MF META-INF/maven/acpkg/acpkg-004/pom.properties META-INF/maven/acpkg/acpkg-004/pom.xml acpkg/acpkg_004/payload.bin]"; fmt.Sprint(names) != want {
		t.Errorf("jar files = %v, want %s", names, want)
	}
	for file, data := range map[string][]byte{"1.0.0/acpkg-004-1.0.0.pom": pom, "1.0.0/acpkg-004-1.0.0.jar": jar} {
		sum := sha1.Sum(data)
		if code, _, body := get(t, "GET", dir+file+".sha1"); code != 200 || string(body) != hex.EncodeToString(sum[:]) {
			t.Errorf("%s.sha1 = %d %q", file, code, body)
		}
		for _, ext := range []string{".md5", ".sha256", ".sha512"} {
			if code, _, _ := get(t, "GET", dir+file+ext); code != 200 {
				t.Errorf("%s%s = %d", file, ext, code)
			}
		}
	}
	code, _, md := get(t, "GET", dir+"maven-metadata.xml")
	if code != 200 || !strings.Contains(string(md), "<release>1.0.0</release>") {
		t.Errorf("metadata: %d %s", code, md)
	}
	if code, _, _ := get(t, "GET", dir+"maven-metadata.xml.sha1"); code != 200 {
		t.Errorf("metadata sha1: %d", code)
	}
	// Only the jar counts, once; a revalidation is no download.
	if code, _, _ := get(t, "GET", dir+"1.0.0/acpkg-004-1.0.0.jar", "If-None-Match", hdr.Get("ETag")); code != 304 {
		t.Errorf("jar revalidation = %d, want 304", code)
	}
	wantKind(t, s, KindMaven, 1)
	wantCounts(t, s, 0, 0, 0, 0)
}
