package pkgserver

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
)

// The apt repository is a classic dists/ layout with one suite per Debian
// release the test images use, one component, "main", and Architecture: all
// packages listed for amd64 and arm64 alike. The suites share one pool, as
// bookworm and trixie do on deb.debian.org:
//
//	deb [trusted=yes] http://127.0.0.1:5960/apt acpkg main    (bookworm images)
//	deb [trusted=yes] http://127.0.0.1:5960/apt trixie main   (trixie images)
//
// It is unsigned (no InRelease, no Release.gpg), hence trusted=yes. Like
// deb.debian.org it sends ETag and Last-Modified on everything and no
// Cache-Control, so apt-get update revalidates with If-Modified-Since.

// aptSuites: "acpkg" is bookworm's (named before there was a second one).
var aptSuites = []string{"acpkg", "trixie"}

var aptArchs = []string{"amd64", "arm64"}

// aptInstalledSize is Installed-Size in KiB: the payload plus directories.
const aptInstalledSize = (PayloadSize+1023)/1024 + 4

// aptDebPath is the pool path of package i's .deb, relative to /apt/.
func aptDebPath(i int) string {
	n := PackageName(i)
	return fmt.Sprintf("pool/main/a/%s/%s_%s_all.deb", n, n, Version)
}

func (s *Server) handleApt(w http.ResponseWriter, r *http.Request) {
	if !getOrHead(w, r) {
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/apt/")
	var (
		b    *blob
		err  error
		kind string
	)
	switch {
	case strings.HasPrefix(p, "dists/"):
		suite, file, _ := strings.Cut(strings.TrimPrefix(p, "dists/"), "/")
		if !slices.Contains(aptSuites, suite) {
			break
		}
		kind = KindAptIndex
		if file == "Release" {
			b, err = aptRelease(suite)
			break
		}
		arch, file, _ := strings.Cut(strings.TrimPrefix(file, "main/binary-"), "/")
		if !slices.Contains(aptArchs, arch) {
			break
		}
		switch file {
		case "Packages":
			b, err = aptPackages()
		case "Packages.gz":
			b, err = aptPackagesGz()
		}
	case strings.HasPrefix(p, "pool/"):
		name, _, _ := strings.Cut(path.Base(p), "_")
		if i, ok := pkgIndex(name); ok && p == aptDebPath(i) {
			b, err = aptDeb(i)
			kind = KindApt
		}
	}
	switch {
	case err != nil:
		serverError(w, err)
	case b == nil:
		http.NotFound(w, r)
	default:
		s.serve(w, r, b, "", kind)
	}
}

// aptDeb builds package i as a real Debian binary package: an ar archive
// of debian-binary, control.tar.gz (control, md5sums) and data.tar.gz
// installing /usr/share/acpkg/acpkg-NNN/payload.
func aptDeb(i int) (*blob, error) {
	return artifacts.get("apt/deb/"+PackageName(i), func() (*blob, error) {
		name := PackageName(i)
		data := payload("apt/" + name)
		dir := "usr/share/acpkg/" + name + "/"
		dataTar, err := tarGz([]archiveFile{
			{name: "./"}, {name: "./usr/"}, {name: "./usr/share/"}, {name: "./usr/share/acpkg/"},
			{name: "./" + dir}, {name: "./" + dir + "payload", data: data},
		}, gzip.NoCompression)
		if err != nil {
			return nil, err
		}
		control := aptControl(i) + fmt.Sprintf("Installed-Size: %d\n", aptInstalledSize)
		md5sums := fmt.Sprintf("%x  %spayload\n", md5.Sum(data), dir)
		controlTar, err := tarGz([]archiveFile{
			{name: "./"}, {name: "./control", data: []byte(control)}, {name: "./md5sums", data: []byte(md5sums)},
		}, gzip.NoCompression)
		if err != nil {
			return nil, err
		}
		var deb bytes.Buffer
		deb.WriteString("!<arch>\n")
		for _, m := range []archiveFile{
			{name: "debian-binary", data: []byte("2.0\n")},
			{name: "control.tar.gz", data: controlTar},
			{name: "data.tar.gz", data: dataTar},
		} {
			// ar member header: name/16 mtime/12 uid/6 gid/6 mode/8 size/10 "`\n",
			// data padded to an even length.
			fmt.Fprintf(&deb, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, epoch.Unix(), 0, 0, "100644", len(m.data))
			deb.Write(m.data)
			if len(m.data)%2 == 1 {
				deb.WriteByte('\n')
			}
		}
		return newBlob("application/vnd.debian.binary-package", deb.Bytes()), nil
	})
}

// aptControl is the control stanza common to the .deb and Packages (less
// Installed-Size, which the caller adds).
func aptControl(i int) string {
	return fmt.Sprintf(`Package: %s
Version: %s
Architecture: all
Maintainer: autocache tests <tests@autocache.invalid>
Section: misc
Priority: optional
Description: autocache test package %03d
 Carries an incompressible payload so that downloads can be counted.
`, PackageName(i), Version, i)
}

// aptPackages is the Packages index; the same for every architecture.
func aptPackages() (*blob, error) {
	return artifacts.get("apt/Packages", func() (*blob, error) {
		var b strings.Builder
		for i := 1; i <= NumPackages; i++ {
			deb, err := aptDeb(i)
			if err != nil {
				return nil, err
			}
			if i > 1 {
				b.WriteString("\n")
			}
			b.WriteString(aptControl(i))
			fmt.Fprintf(&b, "Installed-Size: %d\nFilename: %s\nSize: %d\nMD5sum: %x\nSHA1: %x\nSHA256: %x\n",
				aptInstalledSize, aptDebPath(i), len(deb.data),
				md5.Sum(deb.data), sha1.Sum(deb.data), sha256.Sum256(deb.data))
		}
		return newBlob("text/plain; charset=utf-8", []byte(b.String())), nil
	})
}

func aptPackagesGz() (*blob, error) {
	return artifacts.get("apt/Packages.gz", func() (*blob, error) {
		p, err := aptPackages()
		if err != nil {
			return nil, err
		}
		gz, err := gzipBytes(p.data, gzip.BestCompression)
		if err != nil {
			return nil, err
		}
		return newBlob("application/gzip", gz), nil
	})
}

// aptRelease lists every index file with its size and MD5/SHA256, which
// apt checks after download.
func aptRelease(suite string) (*blob, error) {
	return artifacts.get("apt/Release/"+suite, func() (*blob, error) {
		p, err := aptPackages()
		if err != nil {
			return nil, err
		}
		gz, err := aptPackagesGz()
		if err != nil {
			return nil, err
		}
		var md5s, sha256s strings.Builder
		for _, arch := range aptArchs {
			for _, f := range []struct {
				name string
				data []byte
			}{{"Packages", p.data}, {"Packages.gz", gz.data}} {
				name := "main/binary-" + arch + "/" + f.name
				fmt.Fprintf(&md5s, " %x %8d %s\n", md5.Sum(f.data), len(f.data), name)
				fmt.Fprintf(&sha256s, " %x %8d %s\n", sha256.Sum256(f.data), len(f.data), name)
			}
		}
		rel := fmt.Sprintf(`Origin: autocache
Label: acpkg
Suite: %s
Codename: %s
Date: %s
Architectures: %s
Components: main
Description: autocache hermetic test repository
MD5Sum:
%sSHA256:
%s`, suite, suite, epoch.Format("Mon, 02 Jan 2006 15:04:05 UTC"), strings.Join(aptArchs, " "), md5s.String(), sha256s.String())
		return newBlob("text/plain; charset=utf-8", []byte(rel)), nil
	})
}
