package imagefacts

import "testing"

const passwd = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment
node:x:1000:1000::/home/node:/bin/bash
app:x:1001:1002:App,,,:/home/app:/bin/sh
broken line
nohome:x:1003:1003:::/bin/sh
`

const group = `root:x:0:
staff:x:50:
node:x:1000:
app:x:1002:
`

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		user string
		want Account
		ok   bool
	}{
		{"node", Account{1000, 1000, "/home/node"}, true},
		{"app", Account{1001, 1002, "/home/app"}, true},
		{"app:staff", Account{1001, 50, "/home/app"}, true},
		{"app:77", Account{1001, 77, "/home/app"}, true},
		{"1000", Account{1000, 1000, "/home/node"}, true},
		{"1000:50", Account{1000, 50, "/home/node"}, true},
		{"4242", Account{4242, 0, "/"}, true},
		{"4242:4242", Account{4242, 4242, "/"}, true},
		{"nohome", Account{1003, 1003, "/"}, true},
		{"root", Account{0, 0, "/root"}, true},
		{"ghost", Account{}, false},
		{"app:nogroup", Account{}, false},
	} {
		got, ok := Resolve(tc.user, []byte(passwd), []byte(group))
		if ok != tc.ok || got != tc.want {
			t.Errorf("Resolve(%q) = %+v, %v; want %+v, %v", tc.user, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := Resolve("node", nil, nil); ok {
		t.Error("a name resolved without a passwd file")
	}
}

func TestIsRoot(t *testing.T) {
	for u, want := range map[string]bool{"": true, "root": true, "0": true, "0:0": true, "root:staff": true, "node": false, "1000:0": false} {
		if IsRoot(u) != want {
			t.Errorf("IsRoot(%q) != %v", u, want)
		}
	}
}
