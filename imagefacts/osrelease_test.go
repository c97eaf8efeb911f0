package imagefacts

import (
	"slices"
	"testing"
)

func TestParseOSRelease(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     OSRelease
	}{
		{"ubi8-minimal", `NAME="Red Hat Enterprise Linux"
VERSION="8.10 (Ootpa)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="8.10"
PLATFORM_ID="platform:el8"
`, OSRelease{ID: "rhel", IDLike: []string{"fedora"}, VersionID: "8.10"}},
		{"centos stream 9", "NAME=\"CentOS Stream\"\nVERSION=\"9\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"9\"\n",
			OSRelease{ID: "centos", IDLike: []string{"rhel", "fedora"}, VersionID: "9"}},
		{"fedora, unquoted, CRLF and comments", "# comment\r\nID=fedora\r\n\r\nVERSION_ID=40\r\n",
			OSRelease{ID: "fedora", VersionID: "40"}},
		{"single quotes, escapes, case", "ID='OL'\nVERSION_ID=\"8.\\\"9\"\n", OSRelease{ID: "ol", VersionID: `8."9`}},
		{"later wins", "ID=debian\nID=rocky\nVERSION_ID=8.9", OSRelease{ID: "rocky", VersionID: "8.9"}},
		{"garbage", "\x00\xff\nID=\"unterminated\nVERSION_ID\n=8", OSRelease{}},
		{"empty", "", OSRelease{}},
	} {
		if got := ParseOSRelease([]byte(c.in)); got.ID != c.want.ID || got.VersionID != c.want.VersionID || !slices.Equal(got.IDLike, c.want.IDLike) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestVersionAtLeast(t *testing.T) {
	for _, c := range []struct {
		v, min string
		want   bool
	}{
		{"8.5", "8.5", true}, {"8.10", "8.5", true}, {"8.4", "8.5", false}, {"9", "8.5", true},
		{"9.0", "9", true}, {"8", "8.5", false}, {"8", "9", false}, {"10", "9", true},
		{"", "8.5", false}, {"8.x", "8.5", false}, {"rawhide", "38", false}, {"-1", "0", false},
		{"38", "38", true}, {"41", "38", true}, {"8.5.1", "8.5", true},
	} {
		if got := versionAtLeast(c.v, c.min); got != c.want {
			t.Errorf("versionAtLeast(%q, %q) = %v", c.v, c.min, got)
		}
	}
}
