// Package imagefacts parses what a transform may learn from the
// filesystems of a build: the accounts a step's user name stands for (as
// runc will resolve them from the step's /etc/passwd and /etc/group) and
// which distribution an image is (its os-release). It reads nothing
// itself: the frontend reads the files through the gateway
// (llbtransform.Images), and these functions make sense of the bytes.
package imagefacts

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// Account is a resolved user.
type Account struct {
	UID, GID int
	Home     string
}

// IsRoot reports whether a USER value (as in an ExecOp's Meta.User) runs as
// root: empty, "root" or uid 0, with any group.
func IsRoot(user string) bool {
	u, _, _ := strings.Cut(user, ":")
	return u == "" || u == "root" || u == "0"
}

// Resolve resolves a USER value ("name", "uid", "name:group", "uid:gid", …)
// against passwd and group file contents the way runc does for the
// container: a name must exist in passwd; a numeric uid need not (then its
// home is "/" and its group 0); the group defaults to the user's primary
// group. ok is false when a name can't be resolved.
func Resolve(user string, passwd, group []byte) (Account, bool) {
	u, g, hasGroup := strings.Cut(user, ":")
	acct := Account{Home: "/"}
	found := false
	uid, numeric := atoi(u)
	for _, e := range entries(passwd, 7) {
		id, ok1 := atoi(e[2])
		gid, ok2 := atoi(e[3])
		if !ok1 || !ok2 {
			continue
		}
		if (numeric && id == uid) || (!numeric && e[0] == u) {
			acct, found = Account{UID: id, GID: gid, Home: e[5]}, true
			break
		}
	}
	switch {
	case found:
	case numeric:
		acct.UID = uid
	default:
		return Account{}, false
	}
	if hasGroup {
		if gid, ok := atoi(g); ok {
			acct.GID = gid
		} else if gid, ok := groupID(g, group); ok {
			acct.GID = gid
		} else {
			return Account{}, false
		}
	}
	if acct.Home == "" {
		acct.Home = "/"
	}
	return acct, true
}

func groupID(name string, group []byte) (int, bool) {
	for _, e := range entries(group, 3) {
		if e[0] == name {
			return atoi(e[2])
		}
	}
	return 0, false
}

// entries splits a colon-separated database into records of at least n
// fields, skipping comments and malformed lines.
func entries(data []byte, n int) [][]string {
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if f := strings.Split(line, ":"); len(f) >= n {
			out = append(out, f)
		}
	}
	return out
}

func atoi(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}
