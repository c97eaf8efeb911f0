package main

import "testing"

// TestRealDownloads: the files each tool says it fetched are counted, and
// index files, metadata and cache hits are not (lines from real builds).
func TestRealDownloads(t *testing.T) {
	for _, c := range []struct {
		kind, out string
		want      int
	}{
		{"apt", `#8 0.098 Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]
#8 0.205 Get:4 http://deb.debian.org/debian bookworm/main amd64 Packages [8790 kB]
#8 3.446 Get:1 http://deb.debian.org/debian bookworm/main amd64 less amd64 590-2.1~deb12u2 [132 kB]
#8 1.997 Get:2 http://deb.debian.org/debian-security bookworm-security/main amd64 libjq1 amd64 1.6-2.1+deb12u3 [136 kB]
#8 0.090 Hit:2 http://deb.debian.org/debian bookworm-updates InRelease
`, 2},
		{"npm", `#10 0.851 npm http fetch GET 200 https://registry.npmjs.org/left-pad 80ms (cache updated)
#10 0.946 npm http fetch GET 200 https://registry.npmjs.org/is-odd 59ms (cache miss)
#10 0.998 npm http fetch POST 405 https://registry.npmjs.org/-/npm/v1/security/advisories/bulk 14ms
#10 1.071 npm http fetch GET 200 https://registry.npmjs.org/is-odd/-/is-odd-3.0.1.tgz 56ms (cache miss)
#10 1.072 npm http fetch GET 200 https://registry.npmjs.org/ms/-/ms-2.1.3.tgz 5ms (cache hit)
`, 1},
		{"go", `#10 0.134 # get https://proxy.golang.org/github.com/pkg/errors/@v/v0.9.1.zip
#10 0.134 # get https://proxy.golang.org/github.com/pkg/errors/@v/v0.9.1.zip: 200 OK (0.003s)
#10 0.120 # get https://proxy.golang.org/github.com/pkg/errors/@v/v0.9.1.mod: 200 OK (0.001s)
`, 1},
	} {
		if got := realDownloads(c.kind, c.out); got != c.want {
			t.Errorf("%s: %d downloads, want %d", c.kind, got, c.want)
		}
	}
}
