package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/autocache/autocache/integration/examples"
)

// The demo against the real registries this machine reaches (make demo
// REGISTRIES=real): projects of real packages on the harness's online
// images (the host's CA, the real registries as defaults), whose downloads
// are counted from each tool's own output, since a proxy cannot see into
// HTTPS. PyPI is not reachable here, so there is no pip row.

// realProject is one project: its files, the one dependency the rebuild
// adds, and what a downloaded package file looks like in the build output.
type realProject struct {
	files    map[string]string
	addOne   func(dir string) error
	download *regexp.Regexp
}

var realProjects = map[string]realProject{
	"apt": {
		files: map[string]string{"Dockerfile": `FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      bc \
      file \
      less \
      lsof \
      patch \
      psmisc \
      rsync \
      tree \
      unzip \
      zip \
 && rm -rf /var/lib/apt/lists/*
`},
		addOne: func(dir string) error {
			return examples.Edit(dir, "Dockerfile", func(s string) string { return strings.Replace(s, "      zip \\\n", "      zip \\\n      jq \\\n", 1) })
		},
		// Get:5 http://deb.debian.org/debian bookworm/main amd64 file amd64 1:5.44-3 [42.5 kB]
		// (index files have no package version: InRelease, Packages)
		download: regexp.MustCompile(`Get:\d+ http\S+ \S+ \S+ \S+ \S+ \S+ \[`),
	},
	"npm": {
		files: map[string]string{
			"Dockerfile": `FROM node:18-slim
WORKDIR /app
COPY package.json .
# --loglevel http: npm says which files it fetched (the demo counts them)
RUN npm install --loglevel http
`,
			"package.json": `{
  "name": "autocache-demo",
  "version": "1.0.0",
  "dependencies": {
    "bytes": "3.1.2",
    "depd": "2.0.0",
    "escape-html": "1.0.3",
    "fresh": "0.5.2",
    "inherits": "2.0.4",
    "is-number": "7.0.0",
    "left-pad": "1.3.0",
    "ms": "2.1.3",
    "safe-buffer": "5.2.1",
    "vary": "1.1.2"
  }
}
`},
		addOne: func(dir string) error {
			return examples.Edit(dir, "package.json", func(s string) string {
				return strings.Replace(s, `"vary": "1.1.2"`, `"vary": "1.1.2",`+"\n    "+`"is-odd": "3.0.1"`, 1)
			})
		},
		// npm http fetch GET 200 https://registry.npmjs.org/ms/-/ms-2.1.3.tgz 64ms (cache miss)
		download: regexp.MustCompile(`http fetch GET 200 \S+\.tgz .*\(cache miss\)`),
	},
	"go": {
		files: map[string]string{
			"Dockerfile": `FROM golang:1.26
WORKDIR /app
COPY go.mod ./
# -x: go says which files it fetched (the demo counts them)
RUN go mod download -x
`,
			"go.mod": `module example.com/demo

go 1.26

require (
	github.com/BurntSushi/toml v1.4.0
	github.com/cespare/xxhash/v2 v2.3.0
	github.com/davecgh/go-spew v1.1.1
	github.com/google/go-cmp v0.6.0
	github.com/google/uuid v1.6.0
	github.com/gorilla/mux v1.8.1
	github.com/hashicorp/golang-lru/v2 v2.0.7
	github.com/pkg/errors v0.9.1
	github.com/pmezard/go-difflib v1.0.0
	github.com/rogpeppe/go-internal v1.13.1
)
`},
		addOne: func(dir string) error {
			return examples.Edit(dir, "go.mod", func(s string) string {
				return strings.Replace(s, "\n)\n", "\n\tgolang.org/x/sync v0.10.0\n)\n", 1)
			})
		},
		// # get https://proxy.golang.org/github.com/google/uuid/@v/v1.6.0.zip: 200 OK (0.002s)
		download: regexp.MustCompile(`# get https://\S+\.zip: 200`),
	},
}

// realKinds are the rows of the real demo, in order.
var realKinds = []string{"apt", "npm", "go"}

// writeReal writes the project of kind into dir, its base image the
// harness's online one in registry.
func writeReal(dir, kind, registry string) error {
	for name, body := range realProjects[kind].files {
		if name == "Dockerfile" {
			body = regexp.MustCompile(`(?m)^FROM (\S+)`).ReplaceAllString(body, "FROM "+registry+"/online/$1")
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// realDownloads counts the package files a build fetched, in its output.
func realDownloads(kind, out string) int {
	return len(realProjects[kind].download.FindAllString(out, -1))
}

// realFooter is said under the real demo's table.
const realFooter = "Packages came from the real registries (deb.debian.org, registry.npmjs.org, proxy.golang.org),\n" +
	"counted from each tool's own output; PyPI is not reachable from this machine, so there is no pip row.\n" +
	"The times are this machine's network's: where the registries answer in milliseconds, a cache saves little time."
