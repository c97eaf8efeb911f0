// Package fspath holds the path predicate that pkgmgr and llbtransform
// share. Paths are inside a container: absolute, slash-separated, clean.
package fspath

import "strings"

// Within reports whether p is dir or below it, path-wise.
func Within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}
