package pkgmgr

import "testing"

var (
	// composer:2 image
	composerEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "COMPOSER_ALLOW_SUPERUSER=1",
		"COMPOSER_HOME=/tmp", "COMPOSER_VERSION=2.8.4"}
	// php:8.4-apache with composer copied in
	phpEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PHP_INI_DIR=/usr/local/etc/php",
		"PHP_VERSION=8.4.2"}
	phpCache = []string{"/root/.cache/composer locked 0:0"}
)

// Shapes from the corpus (symfony-docker, drupal, laravel/symfony
// TechEmpower, dependabot) and the Docker docs' PHP tab.
func TestComposer(t *testing.T) { runCases(t, composerCases) }

func init() { registerCases("composer", composerCases) }

var composerCases = []tcase{{
	name: "composer image: COMPOSER_HOME=/tmp", in: "composer install --no-dev --optimize-autoloader", env: composerEnv,
	cwd: "/app", caches: []string{"/tmp/cache locked 0:0"}, notes: []string{"composer: cache /tmp/cache (locked)"},
}, {
	name: "php image with composer copied in: the XDG location, set for the step",
	in:   "composer install --no-interaction --prefer-dist", env: phpEnv,
	caches: phpCache, outEnv: withEnv(phpEnv, "COMPOSER_CACHE_DIR=/root/.cache/composer"),
	notes: []string{"composer: set COMPOSER_CACHE_DIR=/root/.cache/composer for the step"},
}, {
	name: "symfony-docker: --no-cache dropped",
	in:   "composer install --no-cache --prefer-dist --no-dev --no-autoloader --no-scripts --no-progress", env: phpEnv,
	out:    "composer install --prefer-dist --no-dev --no-autoloader --no-scripts --no-progress",
	caches: phpCache, outEnv: withEnv(phpEnv, "COMPOSER_CACHE_DIR=/root/.cache/composer"),
}, {
	name: "ENV COMPOSER_CACHE_DIR=/dev/null is replaced for the step",
	in:   "composer install", env: withEnv(phpEnv, "COMPOSER_CACHE_DIR=/dev/null"),
	caches: phpCache, outEnv: withEnv(phpEnv, "COMPOSER_CACHE_DIR=/root/.cache/composer"),
}, {
	name: "the script's COMPOSER_CACHE_DIR=/dev/null is the user's", in: "COMPOSER_CACHE_DIR=/dev/null composer install", env: phpEnv,
	notes: []string{"composer: skipped: the step sets COMPOSER_CACHE_DIR=/dev/null"},
}, {
	name: "clear-cache goes", in: "composer install && composer clear-cache", env: composerEnv,
	out: "composer install && true", caches: []string{"/tmp/cache locked 0:0"},
}, {
	name: "php composer.phar", in: "php -d memory_limit=-1 composer.phar install --no-dev", env: phpEnv,
	caches: phpCache, outEnv: withEnv(phpEnv, "COMPOSER_CACHE_DIR=/root/.cache/composer"),
}, {
	name: "global require", in: "composer global require laravel/installer", env: composerEnv,
	caches: []string{"/tmp/cache locked 0:0"},
}, {
	name: "drupal: COMPOSER_HOME from mktemp", in: `export COMPOSER_HOME="$(mktemp -d)"; composer create-project drupal/recommended-project ./`,
	env: phpEnv, notes: []string{"composer: skipped: COMPOSER_HOME is not a literal"},
}, {
	name: "COMPOSER_CACHE_DIR in ENV is used as is", in: "composer update", env: withEnv(phpEnv, "COMPOSER_CACHE_DIR=/var/cache/composer"),
	caches: []string{"/var/cache/composer locked 0:0"},
}, {
	name: "numeric user without HOME", in: "composer install", user: "1000", env: phpEnv,
	notes: []string{"composer: skipped: home of user 1000 unknown"},
}, {
	name: "dump-autoload and version: none", in: "composer --version && composer dump-autoload --optimize", env: phpEnv, none: true,
}}
