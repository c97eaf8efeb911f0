package pkgmgr

import "testing"

// ruby:3.4 image
var rubyEnv = []string{"PATH=/usr/local/bundle/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
	"RUBY_VERSION=3.4.9", "GEM_HOME=/usr/local/bundle", "BUNDLE_SILENCE_ROOT_WARNING=1", "BUNDLE_APP_CONFIG=/usr/local/bundle"}

// Rails 7.1+'s generated Dockerfile.
var railsEnv = withEnv(rubyEnv, "RAILS_ENV=production", "BUNDLE_DEPLOYMENT=1", "BUNDLE_PATH=/usr/local/bundle",
	"BUNDLE_WITHOUT=development")

var gemHomeCache = []string{"/usr/local/bundle/cache locked 0:0"}

// Shapes from the corpus (maybe, mastodon, redmine, dependabot, chatwoot)
// and Rails' Dockerfile template.
func TestBundler(t *testing.T) { runCases(t, bundlerCases) }

func init() { registerCases("bundler", bundlerCases) }

var bundlerCases = []tcase{{
	name: "ruby image: system gems in GEM_HOME", in: "bundle install", env: rubyEnv, cwd: "/app",
	caches: gemHomeCache, notes: []string{"bundler: cache /usr/local/bundle/cache (locked)"},
}, {
	name: "maybe: BUNDLE_PATH and deployment", in: "bundle install", env: railsEnv, cwd: "/rails",
	caches: []string{"/usr/local/bundle/ruby/3.4.0/cache locked 0:0"},
}, {
	name: "Rails template: rm of ruby/*/cache (a glob) would take the mountpoint",
	in:   `bundle install && rm -rf ~/.bundle/ "${BUNDLE_PATH}"/ruby/*/cache "${BUNDLE_PATH}"/ruby/*/bundler/gems/*/.git`,
	env:  railsEnv, cwd: "/rails",
	notes: []string{"skipped /usr/local/bundle/ruby/3.4.0/cache: `rm -rf ~/.bundle/"},
}, {
	name: "mastodon: local deployment config in the step", in: "bundle config set --local deployment 'true'; bundle install -j\"$(nproc)\"",
	env: rubyEnv, cwd: "/opt/mastodon", caches: []string{"/opt/mastodon/vendor/bundle/ruby/3.4.0/cache locked 0:0"},
}, {
	name: "dependabot: local path beats the environment", in: "bundle config set --local path 'vendor'; bundle install",
	env: railsEnv, cwd: "/home/dependabot/updater", caches: []string{"/home/dependabot/updater/vendor/ruby/3.4.0/cache locked 0:0"},
}, {
	name: "global config loses to the environment", in: "bundle config set --global path /x && bundle install", env: railsEnv,
	cwd: "/rails", caches: []string{"/usr/local/bundle/ruby/3.4.0/cache locked 0:0"},
}, {
	name: "gem installs bundler, bundler installs the gems", in: "gem install bundler -v 2.5.22 && bundle install --jobs 4 --retry 3",
	env: rubyEnv, caches: gemHomeCache,
}, {
	name: "--local installs from what is there: none", in: "bundle install --local", env: rubyEnv, none: true,
}, {
	name: "no GEM_HOME (distro ruby)", in: "bundle install", env: debianEnv,
	notes: []string{"bundler: skipped: GEM_HOME not set"},
}, {
	name: "numeric user", in: "bundle install", user: "1000:1000", env: rubyEnv,
	caches: []string{"/usr/local/bundle/cache locked 1000:1000"},
}, {
	name: "exec and config: none", in: "bundle config set without 'development test' && bundle exec rake assets:precompile",
	env: rubyEnv, none: true,
}}
