package shell

import "strings"

// SkipOptions skips leading options. valued lists the short options that
// take an argument (attached or next), long the long ones (--x=v or --x v).
func SkipOptions(words []Word, valued string, long []string) ([]Word, bool) {
	for len(words) > 0 {
		a := words[0]
		if !a.Known {
			return nil, false
		}
		v := a.Val
		switch {
		case v == "--":
			return words[1:], true
		case strings.HasPrefix(v, "--"):
			n := 1
			for _, l := range long {
				if v == l {
					n = 2
				}
			}
			if n > len(words) {
				return nil, false
			}
			words = words[n:]
		case len(v) > 1 && v[0] == '-':
			n := 1
			for i := 1; i < len(v); i++ {
				if strings.IndexByte(valued, v[i]) >= 0 {
					if i == len(v)-1 {
						n = 2
					}
					break
				}
			}
			if n > len(words) {
				return nil, false
			}
			words = words[n:]
		default:
			return words, true
		}
	}
	return words, true
}

// FlagAt reads an option with a value at argv[i]: `long=v`, `long v`, and
// when short is set `short v` or (attached) `shortv`. n is how many words
// it takes (0: argv[i] isn't that option); known reports an exact value.
func FlagAt(argv []Word, i int, long, short string, attached bool) (val string, n int, known bool) {
	t := argv[i].Text()
	switch {
	case t == long || (short != "" && t == short):
		if !argv[i].Known || i+1 >= len(argv) {
			return "", 1, false
		}
		return argv[i+1].Val, 2, argv[i+1].Known && !argv[i+1].Glob
	case long != "" && strings.HasPrefix(t, long+"="):
		return strings.TrimPrefix(argv[i].Val, long+"="), 1, argv[i].Known && !argv[i].Glob
	case attached && short != "" && strings.HasPrefix(t, short) && len(t) > len(short):
		return strings.TrimPrefix(argv[i].Val, short), 1, argv[i].Known && !argv[i].Glob
	}
	return "", 0, false
}

// FindFlag looks for an option with a value anywhere in argv[from:]; the
// last one wins. found reports whether it is there at all.
func FindFlag(argv []Word, from int, long, short string, attached bool) (val string, found, known bool) {
	for i := from; i < len(argv); i++ {
		if argv[i].Known && argv[i].Val == "--" {
			break
		}
		if v, n, k := FlagAt(argv, i, long, short, attached); n > 0 {
			val, found, known = v, true, k
			i += n - 1
		}
	}
	return val, found, known
}

// HasWord reports whether one of the words in argv[from:] (before a "--")
// is one of names.
func HasWord(argv []Word, from int, names ...string) bool {
	for i := from; i < len(argv); i++ {
		if argv[i].Known && argv[i].Val == "--" {
			return false
		}
		for _, n := range names {
			if argv[i].Known && argv[i].Val == n {
				return true
			}
		}
	}
	return false
}
