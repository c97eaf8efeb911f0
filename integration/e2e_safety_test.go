//go:build e2e

package integration

import (
	"fmt"
	"path/filepath"
	"testing"
)

// TestCopyFromStageSeesContent: a stage whose module cache another stage
// copies out must keep it in its layers (autocache must not cache it there),
// so the build works and gives upstream's image.
func TestCopyFromStageSeesContent(t *testing.T) {
	e := newEngine(t)
	tars := map[string]string{}
	for _, mode := range []string{upstream, viaSyntax} {
		dir := t.TempDir()
		fixtures[3].files(t, e, dir, 3) // go.mod, go.sum, main.go
		writeDockerfile(t, e, dir, mode, "FROM golang:1.26 AS deps\nARG E2E_RUN\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\n\n"+
			"FROM debian:bookworm-slim\nCOPY --from=deps /go/pkg/mod/acpkg.test /mods\nRUN ls /mods > /mods.txt\n")
		tars[mode] = filepath.Join(t.TempDir(), "image.tar")
		if out, err := e.build(t, buildSpec{dir: dir, mode: mode, args: map[string]string{"E2E_RUN": e.runID}, tarOut: tars[mode]}); err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, tail(out, 20))
		}
	}
	compareImages(t, tars[upstream], tars[viaSyntax], nil, volatile)
	if got := readTar(t, tars[viaSyntax])["/mods/m003@v1.0.0/payload.bin"]; got.Size == 0 {
		t.Errorf("the copied module cache is missing from the image")
	}
}

// TestNonRootUsersGetTheirOwnCaches: steps of non-root users get caches they
// own, under their own home, resolved from the image's /etc/passwd (also
// users an earlier step created); a rebuild downloads only the new package.
func TestNonRootUsersGetTheirOwnCaches(t *testing.T) {
	e := newEngine(t)
	for i, tc := range []struct {
		name string
		fx   fixture
		body func(string) string // from the fixture's Dockerfile to this one
	}{
		{"USER node, npm ci", fixtures[2], func(string) string {
			return "FROM node:18-slim\nARG E2E_RUN\nUSER node\nWORKDIR /home/node/app\n" +
				"COPY --chown=node:node package.json package-lock.json ./\nRUN npm ci\n"
		}},
		{"USER 1000:1000, pip --user", fixtures[1], func(string) string {
			return "FROM python:3.11-slim\nARG E2E_RUN\nRUN useradd -m -u 1000 app\nUSER 1000:1000\nWORKDIR /home/app\n" +
				"COPY requirements.txt .\nRUN pip install --user -r requirements.txt\n"
		}},
		{"useradd -m app, USER app, pip --user", fixtures[1], func(string) string {
			return "FROM python:3.11-slim\nARG E2E_RUN\nRUN useradd -m app\nUSER app\nWORKDIR /home/app\n" +
				"COPY requirements.txt .\nRUN pip install --user --no-cache-dir -r requirements.txt\n"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := map[string]string{"E2E_RUN": e.runID, "BUILDKIT_CACHE_MOUNT_NS": fmt.Sprintf("e2e-users-%s-%d", e.runID, i)}
			var got []int
			for _, n := range []int{47, 48} {
				writeDockerfile(t, e, dir, viaSyntax, tc.body(tc.fx.files(t, e, dir, n)))
				before := e.counts(t)[tc.fx.kind]
				if _, err := e.build(t, buildSpec{dir: dir, mode: viaSyntax, args: args}); err != nil {
					t.Fatalf("build with %d packages: %v", n, err)
				}
				got = append(got, e.counts(t)[tc.fx.kind]-before)
			}
			if got[0] != 47 || got[1] != 1 {
				t.Errorf("downloads %v, want [47 1]", got)
			}
		})
	}
}
