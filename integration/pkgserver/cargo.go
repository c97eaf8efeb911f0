package pkgserver

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// The cargo side is a sparse registry (RFC 2789, stable since cargo 1.68)
// at /cargo/, for crates acpkg-001 … acpkg-060 at 1.0.0:
//
//	# $CARGO_HOME/config.toml
//	[source.crates-io]
//	replace-with = "acpkg"
//	[source.acpkg]
//	registry = "sparse+http://127.0.0.1:5960/cargo/"
//
// /cargo/config.json names the download URL (built from the Host header,
// like the npm tarball URLs); the index file of a crate lives at the sparse
// path for its name (ac/pk/acpkg-001), one JSON line per version with the
// .crate's sha256 as cksum. Downloads are /cargo/crates/NAME/VERSION/download,
// what cargo derives from a "dl" without {crate} markers, as crates.io's
// config.json has it. Caching headers: index files are revalidated (cargo
// sends If-None-Match / If-Modified-Since every run; index.crates.io says
// max-age=600), .crate files are static.crates.io's: a year, immutable.
const (
	cargoIndexCache = "public, max-age=600"
	cargoCrateCache = "public, max-age=31536000, immutable"
)

func cargoCrateName(i int) string { return PackageName(i) + "-" + Version + ".crate" }

// cargoIndexPath is the sparse index path of a crate name of 4 or more
// characters: first two / next two / name.
func cargoIndexPath(name string) string { return name[:2] + "/" + name[2:4] + "/" + name }

func (s *Server) handleCargo(w http.ResponseWriter, r *http.Request) {
	if !getOrHead(w, r) {
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/cargo/")
	if p == "config.json" {
		b, err := jsonBlob("application/json", map[string]any{
			"dl": "http://" + requestHost(r) + "/cargo/crates", "api": nil,
		})
		if err != nil {
			serverError(w, err)
			return
		}
		s.serve(w, r, b, cargoIndexCache, "")
		return
	}
	if rest, ok := strings.CutPrefix(p, "crates/"); ok {
		parts := strings.Split(rest, "/")
		i, known := pkgIndex(parts[0])
		if !known || len(parts) != 3 || parts[0] != PackageName(i) || parts[1] != Version || parts[2] != "download" {
			http.NotFound(w, r)
			return
		}
		b, err := cargoCrate(i)
		if err != nil {
			serverError(w, err)
			return
		}
		s.serve(w, r, b, cargoCrateCache, KindCargo)
		return
	}
	name := p[strings.LastIndex(p, "/")+1:]
	i, known := pkgIndex(name)
	if !known || name != PackageName(i) || p != cargoIndexPath(name) {
		// cargo asks for every name it might need (and its -/_ variants);
		// 404 is "no such crate".
		http.NotFound(w, r)
		return
	}
	b, err := cargoIndexFile(i)
	if err != nil {
		serverError(w, err)
		return
	}
	s.serve(w, r, b, cargoIndexCache, "")
}

// cargoIndexFile is the crate's index file: one line for 1.0.0.
func cargoIndexFile(i int) (*blob, error) {
	return artifacts.get("cargo/index/"+PackageName(i), func() (*blob, error) {
		crate, err := cargoCrate(i)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(crate.data)
		line, err := json.Marshal(struct {
			Name     string              `json:"name"`
			Vers     string              `json:"vers"`
			Deps     []any               `json:"deps"`
			Cksum    string              `json:"cksum"`
			Features map[string][]string `json:"features"`
			Yanked   bool                `json:"yanked"`
		}{PackageName(i), Version, []any{}, hex.EncodeToString(sum[:]), map[string][]string{}, false})
		if err != nil {
			return nil, err
		}
		return newBlob("text/plain", append(line, '\n')), nil
	})
}

// CargoChecksum is the sha256 of acpkg-NNN-1.0.0.crate, as Cargo.lock
// records it.
func CargoChecksum(i int) (string, error) {
	crate, err := cargoCrate(i)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(crate.data)
	return hex.EncodeToString(sum[:]), nil
}

// cargoCrate builds acpkg-NNN-1.0.0.crate as cargo package lays it out: a
// gzipped tar of acpkg-NNN-1.0.0/ with Cargo.toml, src/lib.rs (which
// embeds the payload, so a build really reads it) and payload.bin.
func cargoCrate(i int) (*blob, error) {
	return artifacts.get("cargo/"+cargoCrateName(i), func() (*blob, error) {
		name := PackageName(i)
		dir := name + "-" + Version + "/"
		toml := fmt.Sprintf(`[package]
edition = "2021"
name = %q
version = %q
description = "autocache test package %03d"
license = "MIT"

[lib]
path = "src/lib.rs"
`, name, Version, i)
		lib := fmt.Sprintf("//! autocache test crate %s: a payload to count downloads by.\n\n"+
			"/// The crate's payload.bin.\npub static PAYLOAD: &[u8] = include_bytes!(\"../payload.bin\");\n", name)
		tgz, err := tarGz([]archiveFile{
			{dir + "Cargo.toml", []byte(toml)},
			{dir + "payload.bin", payload("cargo/" + name)},
			{dir + "src/lib.rs", []byte(lib)},
		}, gzip.NoCompression)
		if err != nil {
			return nil, err
		}
		return newBlob("application/x-tar", tgz), nil
	})
}

// CargoLock returns the Cargo.lock cargo writes for a binary package
// (name, version) depending on acpkg-001 … acpkg-NNN from crates.io
// replaced by this registry: the lock names the original source (crates.io)
// and the checksums of our .crate files.
func CargoLock(name, version string, n int) (string, error) {
	var b strings.Builder
	b.WriteString("# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n")
	app := func() {
		fmt.Fprintf(&b, "\n[[package]]\nname = %q\nversion = %q\ndependencies = [\n", name, version)
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, " %q,\n", PackageName(i))
		}
		b.WriteString("]\n")
	}
	done := false
	for i := 1; i <= n; i++ {
		if !done && name < PackageName(i) {
			app()
			done = true
		}
		sum, err := CargoChecksum(i)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "\n[[package]]\nname = %q\nversion = %q\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = %q\n", PackageName(i), Version, sum)
	}
	if !done {
		app()
	}
	return b.String(), nil
}
