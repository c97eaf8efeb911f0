package fspath

import "testing"

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		p, dir string
		want   bool
	}{
		{"/root/.cache/pip", "/root/.cache", true},
		{"/root/.cache", "/root/.cache", true},
		{"/root/.cachex", "/root/.cache", false},
		{"/root", "/root/.cache", false},
		{"/anything", "/", true},
	} {
		if got := Within(c.p, c.dir); got != c.want {
			t.Errorf("Within(%q, %q) = %v", c.p, c.dir, got)
		}
	}
}
