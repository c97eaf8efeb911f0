package pkgserver

import (
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The npm side is a registry at /npm/:
//
//	npm install --registry http://127.0.0.1:5960/npm/ acpkg-001
//
// Packuments come full (application/json) or abbreviated (when the client
// asks for application/vnd.npm.install-v1+json, as npm install does). Their
// dist.tarball URLs use the Host header the client sent, so the same server
// works from the host and from a build container. Caching headers are
// registry.npmjs.org's: packuments 5 minutes, tarballs a year, immutable.
const (
	npmPackumentCache = "public, max-age=300"
	npmTarballCache   = "public, immutable, max-age=31557600"
	npmAbbreviated    = "application/vnd.npm.install-v1+json"
)

func npmTarballName(i int) string { return PackageName(i) + "-" + Version + ".tgz" }

func (s *Server) handleNpm(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/npm/")
	// npm audits after install unless told not to; no advisories is the
	// honest answer and keeps its output quiet.
	if p == "-/npm/v1/security/advisories/bulk" && r.Method == http.MethodPost {
		writeJSON(w, struct{}{})
		return
	}
	if !getOrHead(w, r) {
		return
	}
	if p == "-/ping" {
		writeJSON(w, struct{}{})
		return
	}
	parts := strings.Split(p, "/")
	i, ok := pkgIndex(parts[0])
	if !ok || parts[0] != PackageName(i) {
		npmNotFound(w)
		return
	}
	switch {
	case len(parts) == 1:
		s.npmPackument(w, r, i)
	case len(parts) == 2 && (parts[1] == Version || parts[1] == "latest"):
		m, err := npmManifest(i, requestHost(r), false)
		if err != nil {
			serverError(w, err)
			return
		}
		b, err := jsonBlob("application/json", m)
		if err != nil {
			serverError(w, err)
			return
		}
		s.serve(w, r, b, npmPackumentCache, "")
	case len(parts) == 3 && parts[1] == "-" && parts[2] == npmTarballName(i):
		b, err := npmTarball(i)
		if err != nil {
			serverError(w, err)
			return
		}
		s.serve(w, r, b, npmTarballCache, KindNpm)
	default:
		npmNotFound(w)
	}
}

func npmNotFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintln(w, `{"error":"Not found"}`)
}

type npmDist struct {
	Tarball   string `json:"tarball"`
	Shasum    string `json:"shasum"`
	Integrity string `json:"integrity"`
}

// npmVersion is a version manifest; the abbreviated form keeps only name,
// version and dist.
type npmVersion struct {
	Name        string  `json:"name"`
	Version     string  `json:"version"`
	Description string  `json:"description,omitempty"`
	Main        string  `json:"main,omitempty"`
	License     string  `json:"license,omitempty"`
	ID          string  `json:"_id,omitempty"`
	Dist        npmDist `json:"dist"`
}

func npmManifest(i int, host string, abbreviated bool) (npmVersion, error) {
	tgz, err := npmTarball(i)
	if err != nil {
		return npmVersion{}, err
	}
	name := PackageName(i)
	sha1sum, sha512sum := sha1.Sum(tgz.data), sha512.Sum512(tgz.data)
	v := npmVersion{
		Name:    name,
		Version: Version,
		Dist: npmDist{
			Tarball:   "http://" + host + "/npm/" + name + "/-/" + npmTarballName(i),
			Shasum:    hex.EncodeToString(sha1sum[:]),
			Integrity: "sha512-" + base64.StdEncoding.EncodeToString(sha512sum[:]),
		},
	}
	if !abbreviated {
		v.Description, v.Main, v.License, v.ID = npmDescription(i), "index.js", "MIT", name+"@"+Version
	}
	return v, nil
}

func npmDescription(i int) string { return fmt.Sprintf("autocache test package %03d", i) }

// npmPackument serves the package document. It depends on the Host header
// (tarball URLs), so it is built per request; it is small.
func (s *Server) npmPackument(w http.ResponseWriter, r *http.Request, i int) {
	accept := r.Header.Get("Accept")
	qa, sa := acceptQ(accept, npmAbbreviated)
	qj, _ := acceptQ(accept, "application/json")
	abbreviated := sa == 3 && qa > 0 && qa >= qj
	m, err := npmManifest(i, requestHost(r), abbreviated)
	if err != nil {
		serverError(w, err)
		return
	}
	name, t := PackageName(i), epoch.Format(time.RFC3339Nano)
	var doc any
	ctype := "application/json"
	if abbreviated {
		ctype = npmAbbreviated
		doc = struct {
			Name     string                `json:"name"`
			Modified string                `json:"modified"`
			DistTags map[string]string     `json:"dist-tags"`
			Versions map[string]npmVersion `json:"versions"`
		}{name, t, map[string]string{"latest": Version}, map[string]npmVersion{Version: m}}
	} else {
		doc = struct {
			ID          string                `json:"_id"`
			Name        string                `json:"name"`
			Description string                `json:"description"`
			DistTags    map[string]string     `json:"dist-tags"`
			Versions    map[string]npmVersion `json:"versions"`
			Time        map[string]string     `json:"time"`
			License     string                `json:"license"`
		}{name, name, npmDescription(i), map[string]string{"latest": Version}, map[string]npmVersion{Version: m},
			map[string]string{"created": t, "modified": t, Version: t}, "MIT"}
	}
	body, err := json.Marshal(doc)
	if err != nil {
		serverError(w, err)
		return
	}
	w.Header().Set("Vary", "Accept")
	s.serve(w, r, newBlob(ctype, append(body, '\n')), npmPackumentCache, "")
}

// npmTarball builds acpkg-NNN-1.0.0.tgz as npm pack lays it out: everything
// under package/, with package.json, an index.js exporting the payload's
// path, and payload.bin.
func npmTarball(i int) (*blob, error) {
	return artifacts.get("npm/"+npmTarballName(i), func() (*blob, error) {
		name := PackageName(i)
		pkgJSON, err := json.MarshalIndent(map[string]string{
			"name": name, "version": Version, "description": npmDescription(i), "main": "index.js", "license": "MIT",
		}, "", "  ")
		if err != nil {
			return nil, err
		}
		tgz, err := tarGz([]archiveFile{
			{"package/package.json", append(pkgJSON, '\n')},
			{"package/index.js", []byte("module.exports = require('path').join(__dirname, 'payload.bin');\n")},
			{"package/payload.bin", payload("npm/" + name)},
		}, gzip.NoCompression)
		if err != nil {
			return nil, err
		}
		return newBlob("application/octet-stream", tgz), nil
	})
}
