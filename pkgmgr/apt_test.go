package pkgmgr

import (
	"strings"
	"testing"
)

var (
	aptBoth   = []string{"/var/cache/apt locked 0:0", "/var/lib/apt/lists locked 0:0"}
	aptCache1 = []string{"/var/cache/apt locked 0:0"}
)

// Shapes from the corpus (testdata/corpus) and Docker's docs; scripts are
// as the Dockerfile parser hands them over (continuation lines joined).
func TestApt(t *testing.T) { runCases(t, aptCases) }

func init() { registerCases("apt", aptCases) }

var aptCases = []tcase{{
	name:   "classic update install rm lists",
	in:     "apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*",
	out:    "apt-get update && apt-get install -y --no-install-recommends curl && true",
	caches: aptBoth, files: true,
	notes: []string{"apt: cache /var/cache/apt (locked)", "apt: removed `rm -rf /var/lib/apt/lists/*`", "shadowed /etc/apt/apt.conf.d/docker-clean"},
}, {
	name: "miniconda3 debian: clean and rm lists",
	in: "apt-get update -q &&     apt-get install -q -y --no-install-recommends         bzip2         ca-certificates" +
		"     && apt-get clean     && rm -rf /var/lib/apt/lists/*",
	out: "apt-get update -q &&     apt-get install -q -y --no-install-recommends         bzip2         ca-certificates" +
		"     && true     && true",
	caches: aptBoth, files: true,
	notes: []string{"apt: removed `apt-get clean`"},
}, {
	name: "docker-library python: set -eux; with ; separators",
	in: "set -eux; \tapt-get update; \tapt-get install -y --no-install-recommends \t\tca-certificates \t\tnetbase \t\ttzdata \t; " +
		"\trm -rf /var/lib/apt/lists/*",
	out: "set -eux; \tapt-get update; \tapt-get install -y --no-install-recommends \t\tca-certificates \t\tnetbase \t\ttzdata \t; " +
		"\ttrue",
	caches: aptBoth, files: true,
}, {
	name: "vaultwarden debian: SHELL bash -o pipefail, mkdir first",
	argv: []string{"/bin/bash", "-o", "pipefail", "-c", "mkdir /data &&     apt-get update && apt-get install -y         --no-install-recommends" +
		"         ca-certificates         curl         openssl &&     apt-get clean &&     rm -rf /var/lib/apt/lists/*"},
	outArgv: []string{"/bin/bash", "-o", "pipefail", "-c", "mkdir /data &&     apt-get update && apt-get install -y         --no-install-recommends" +
		"         ca-certificates         curl         openssl &&     true &&     true"},
	caches: aptBoth, files: true,
}, {
	name: "uptime-kuma: apt binary, flags before verb, autoremove after",
	in: "apt update &&     apt --yes --no-install-recommends install ./apprise.deb python3-paho-mqtt &&     rm -rf /var/lib/apt/lists/* &&" +
		"     rm -f apprise.deb &&     apt --yes autoremove",
	out: "apt update &&     apt --yes --no-install-recommends install ./apprise.deb python3-paho-mqtt &&     true &&" +
		"     rm -f apprise.deb &&     apt --yes autoremove",
	caches: aptBoth, files: true,
}, {
	name:   "lists kept: only the package cache",
	in:     "apt-get update && apt-get install -y gcc",
	caches: aptCache1, files: true,
	notes: []string{"apt: not caching /var/lib/apt/lists: the step keeps them"},
}, {
	name:   "rm of lists before update doesn't count",
	in:     "rm -rf /var/lib/apt/lists/* && apt-get update && apt-get install -y gcc",
	caches: aptCache1, files: true,
}, {
	name:   "rm with other operands keeps them",
	in:     "apt-get update && apt-get install -y x && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /tmp/*",
	out:    "apt-get update && apt-get install -y x && rm -rf /tmp/*",
	caches: aptBoth, files: true,
	notes: []string{"apt: dropped /var/lib/apt/lists/* from", "apt: dropped /var/cache/apt/archives/*.deb from"},
}, {
	name:   "multi-line script with continuations (heredoc RUN)",
	in:     "set -e\napt-get update\napt-get install -y \\\n    git \\\n    curl\nrm -rf \\\n    /var/lib/apt/lists/* \\\n    /root/.gnupg\n",
	out:    "set -e\napt-get update\napt-get install -y \\\n    git \\\n    curl\nrm -rf \\\n    /root/.gnupg\n",
	caches: aptBoth, files: true,
}, {
	name: "apt-get update alone", in: "apt-get update", none: true,
}, {
	name: "update and rm, no install", in: "apt-get update && rm -rf /var/lib/apt/lists/*", none: true,
}, {
	name: "commented out install", in: "# apt-get install -y foo\necho hi", none: true,
}, {
	name: "install as an argument", in: `echo "apt-get install -y x" && grep apt-get /etc/motd`, none: true,
}, {
	name: "remove and purge don't download", in: "apt-get purge -y --auto-remove gcc && apt-get autoremove -y && apt-get clean", none: true,
}, {
	name:   "DEBIAN_FRONTEND inline and -o option with a value",
	in:     `DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Options::="--force-confold" install -y tzdata`,
	caches: aptCache1, files: true,
}, {
	name:   "dist-clean after update (python on trixie)",
	in:     "set -eux; apt-get update; apt-get install -y --no-install-recommends netbase; apt-get dist-clean",
	out:    "set -eux; apt-get update; apt-get install -y --no-install-recommends netbase; true",
	caches: aptBoth, files: true,
}, {
	name:  "dist-clean without update also drops image lists: leave it",
	in:    "apt-get install -y netbase && apt-get dist-clean",
	notes: []string{"skipped /var/cache/apt: `apt-get dist-clean` also removes /var/lib/apt/lists"},
}, {
	name:   "rm of /var/cache/* would hit the mountpoint",
	in:     "apt-get update && apt-get install -y x && rm -rf /var/lib/apt/lists/* /var/cache/*",
	out:    "apt-get update && apt-get install -y x && rm -rf /var/cache/*",
	caches: []string{"/var/lib/apt/lists locked 0:0"},
	notes:  []string{"skipped /var/cache/apt: `rm -rf /var/lib/apt/lists/* /var/cache/*` would remove the mountpoint"},
}, {
	name:   "rm of /var/lib/apt: lists not mounted, rm stays",
	in:     "apt-get update && apt-get install -y x && rm -rf /var/lib/apt",
	caches: aptCache1, files: true,
	notes: []string{"skipped /var/lib/apt/lists: `rm -rf /var/lib/apt` would remove the mountpoint"},
}, {
	name: "docker docs: step removes docker-clean itself",
	in: `rm -f /etc/apt/apt.conf.d/docker-clean; echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' > /etc/apt/apt.conf.d/keep-cache;` +
		` apt-get update && apt-get install -y gcc`,
	caches: aptCache1,
	notes:  []string{"not shadowing docker-clean"},
}, {
	name:   "user cache mounts (mastodon)",
	in:     "set -eux; apt-get update; apt-get install -y --no-install-recommends file tini; rm -rf /var/lib/apt/lists/*",
	mounts: []string{"/var/cache", "/var/lib/apt", "/var/log"},
	notes:  []string{"skipped /var/cache/apt: the step already mounts /var/cache", "skipped /var/lib/apt/lists: the step already mounts /var/lib/apt"},
}, {
	name: "non-root user without sudo: apt fails upstream anyway",
	in:   "apt-get install -y git", user: "1000:1000",
	notes: []string{"apt: skipped: `apt-get install -y git` runs as user 1000:1000"},
}, {
	name: "sudo in a non-root step: root-owned caches",
	in:   "sudo apt-get update && sudo apt-get install -y git && sudo rm -rf /var/lib/apt/lists/*", user: "1000:1000",
	out:    "sudo apt-get update && sudo apt-get install -y git && true",
	caches: aptBoth, files: true,
}, {
	name: "named user: nothing until users are resolved",
	in:   "sudo apt-get install -y git", user: "node",
	notes: []string{"apt: skipped: user node not resolved yet"},
}, {
	name:   "nested sh -c in single quotes is edited",
	in:     "sh -c 'apt-get update && apt-get install -y x && rm -rf /var/lib/apt/lists/*'",
	out:    "sh -c 'apt-get update && apt-get install -y x && true'",
	caches: aptBoth, files: true,
}, {
	name:   "nested double-quoted string with $: detect only",
	in:     `bash -c "apt-get update && apt-get install -y $PKGS && rm -rf /var/lib/apt/lists/*"`,
	caches: aptCache1, files: true,
	notes: []string{"skipped /var/lib/apt/lists: can't edit `rm -rf /var/lib/apt/lists/*` (inside a string)"},
}, {
	name:   "quoted heredoc fed to bash is edited",
	in:     "bash -ex <<'EOF'\napt-get update\napt-get install -y x\napt-get clean\nrm -rf /var/lib/apt/lists/*\nEOF\n",
	out:    "bash -ex <<'EOF'\napt-get update\napt-get install -y x\ntrue\ntrue\nEOF\n",
	caches: aptBoth, files: true,
}, {
	name:  "unquoted heredoc with expansions: detect only",
	in:    "bash <<EOF\napt-get update\napt-get install -y $PKG\napt-get clean\nEOF\n",
	notes: []string{"skipped /var/cache/apt: can't edit `apt-get clean`"},
}, {
	name:   "xx-apt-get (tonistiigi/xx) in exec form",
	argv:   []string{"xx-apt-get", "install", "-y", "gcc"},
	caches: aptCache1, files: true,
}, {
	name: "aptitude", in: "aptitude update && aptitude install -y vim && aptitude clean",
	out: "aptitude update && aptitude install -y vim && true", caches: aptCache1, files: true,
}, {
	name: "windows step", in: "apt-get install -y x", os: "windows", none: true,
}, {
	name:   "redirection inside a replaced command survives",
	in:     "apt-get install -y x && apt-get clean >/tmp/clean.log 2>&1",
	out:    "apt-get install -y x && true >/tmp/clean.log 2>&1",
	caches: aptCache1, files: true,
}}

func TestAptOptions(t *testing.T) {
	s := Step{Args: []string{"/bin/sh", "-c", "apt-get update && apt-get install -y x && pip install y"}}
	p, err := Analyze(s, Options{Managers: []string{"pip"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Managers) != 1 || p.Managers[0] != "pip" || len(p.Files) != 0 {
		t.Fatalf("only pip enabled, got %+v", p)
	}
	if p, _ := Analyze(s, Options{Managers: []string{}}); len(p.Managers) != 0 {
		t.Fatalf("nothing enabled, got %+v", p)
	}
}

// List-Cleanup is off only where the lists are cached, in the step's own
// docker-clean; the rest of that file stays as it was.
func TestAptListCleanupOffWithCachedLists(t *testing.T) {
	for script, off := range map[string]bool{
		"apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*": true,
		"apt-get update && apt-get install -y curl":                                false, // lists kept in the layer
		"apt-get install -y curl":                                                  false,
	} {
		p, err := Analyze(Step{Args: []string{"/bin/sh", "-c", script}, Env: debianEnv}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var conf string
		for _, f := range p.Files {
			if f.Target == aptDockerClean {
				conf = string(f.Contents)
			}
		}
		if !strings.HasPrefix(conf, aptDockerCleanConf) {
			t.Fatalf("%q: docker-clean %q", script, conf)
		}
		if got := strings.Contains(conf, `APT::List-Cleanup "false";`); got != off {
			t.Errorf("%q: List-Cleanup off %v, want %v (%q)", script, got, off, conf)
		}
		if got := strings.Contains(strings.Join(p.Notes, "\n"), "APT::List-Cleanup off"); got != off {
			t.Errorf("%q: note %v, want %v", script, got, off)
		}
	}
}
