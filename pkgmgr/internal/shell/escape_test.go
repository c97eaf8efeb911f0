package shell

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// escapeGlobRuneByRune is EscapeGlob as it was written first: the
// reference for the faster one.
func escapeGlobRuneByRune(s string) string {
	if !strings.ContainsAny(s, `*?[\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestEscapeGlobIsRuneByRune(t *testing.T) {
	alphabet := []string{"a", "*", "?", "[", "]", `\`, " ", "é", "日", "\xff", "\xe6\x97", "-", "/"}
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []string{"", "plain", "*", `a\b`, "[x]*?", "é*日", "\xff*", "rm -rf /var/lib/apt/lists/*"}
	for range 2000 {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		cases = append(cases, b.String())
	}
	for _, s := range cases {
		if got, want := EscapeGlob(s), escapeGlobRuneByRune(s); got != want {
			t.Fatalf("EscapeGlob(%q) = %q, want %q", s, got, want)
		}
	}
}
