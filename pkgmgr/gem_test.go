package pkgmgr

import "testing"

// Shapes from the corpus (fluentd, traefik docs, chatwoot, dependabot) and
// ruby-based Dockerfiles.
func TestGem(t *testing.T) { runCases(t, gemCases) }

func init() { registerCases("gem", gemCases) }

var gemCases = []tcase{{
	name: "ruby image: gem install bundler", in: "gem install bundler -v 2.5.22", env: rubyEnv,
	caches: gemHomeCache, notes: []string{"gem: cache /usr/local/bundle/cache (locked)"},
}, {
	name: "traefik: native extension with build args", in: "gem install nokogiri --version 1.18.6 --no-document -- --use-system-libraries",
	env: rubyEnv, caches: gemHomeCache,
}, {
	name: "dependabot: gem update --system", in: "gem update --system 3.6.2", env: rubyEnv, caches: gemHomeCache,
}, {
	name: "fluentd: installs then rm of the cached .gem files goes",
	in:   "gem install oj -v 3.17.3 && gem install fluentd -v 1.19.3 && rm -rf /usr/local/bundle/cache/*.gem", env: rubyEnv,
	out: "gem install oj -v 3.17.3 && gem install fluentd -v 1.19.3 && true", caches: gemHomeCache,
}, {
	name: "--install-dir", in: "gem install -i /opt/gems rake", env: rubyEnv, caches: []string{"/opt/gems/cache locked 0:0"},
}, {
	name: "--user-install", in: "gem install --user-install rake", env: rubyEnv,
	notes: []string{"gem: skipped: --user-install"},
}, {
	name: "no GEM_HOME (alpine ruby)", in: "gem install bundler", env: alpineEnv,
	notes: []string{"gem: skipped: GEM_HOME not set"},
}, {
	name: "--local .gem file: none", in: "gem install --local ./pkg/mygem-1.0.gem", env: rubyEnv, none: true,
}, {
	name: "rm of all of GEM_HOME takes the mountpoint", in: "gem install rake && rm -rf /usr/local/bundle", env: rubyEnv,
	notes: []string{"skipped /usr/local/bundle/cache: `rm -rf /usr/local/bundle` would remove the mountpoint"},
}, {
	name: "list, env, version: none", in: "gem --version && gem env && gem list", env: rubyEnv, none: true,
}}
