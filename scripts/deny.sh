#!/usr/bin/env bash
# Checks the dependency tree against deny.toml with cargo-deny: licences, bans and sources always (a
# violation fails), advisories (RustSec) when the advisory database can be had. Installs cargo-deny
# first if it is missing. Used by CI (.ci/run); run it by hand after changing dependencies.
#
#   ./scripts/deny.sh
#
# Environment:
#   PANELIST_DENY_REQUIRE_ADVISORIES=1  fail, instead of skipping, when the advisory database cannot
#                                      be fetched and there is no local copy.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned, so every machine checks with the same rules; raise it deliberately.
DENY_VERSION=0.20.2

cache=/var/cache/panelist
if mkdir -p "$cache/tools" 2>/dev/null && [ -w "$cache/tools" ]; then
  tools="$cache/tools"
else
  tools="$PWD/target/tools"
fi

deny_version() { "$1" --version 2>/dev/null | awk '{print $2}'; }

deny=""
for candidate in "$tools/bin/cargo-deny" "$(command -v cargo-deny || true)"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && [ "$(deny_version "$candidate")" = "$DENY_VERSION" ]; then
    deny="$candidate"
    break
  fi
done
if [ -z "$deny" ]; then
  echo "installing cargo-deny $DENY_VERSION into $tools (a few minutes, once)"
  # Its own target directory: kept between runs, and apart from the workspace's.
  CARGO_TARGET_DIR="$tools/build" cargo install cargo-deny --version "$DENY_VERSION" --locked --root "$tools"
  deny="$tools/bin/cargo-deny"
fi
echo "$("$deny" --version)"

# Licences, bans, sources: these need only the lockfile and the crates' manifests.
"$deny" --locked check licenses bans sources

# Advisories need the RustSec advisory database, a git repository on GitHub. No package registry ships
# a copy of it, and Panelist's build machines cannot reach GitHub; so the check runs when the database
# can be fetched, or against a local copy fetched earlier, and is otherwise skipped, loudly.
db_root="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
local_db() {
  local dir
  for dir in "$db_root"/*/; do
    if [ -d "$dir" ] && git -C "$dir" rev-parse --verify -q HEAD >/dev/null 2>&1; then
      echo "${dir%/}"
      return 0
    fi
  done
  return 1
}

if fetch_log=$("$deny" --locked fetch db 2>&1); then
  echo "advisories: RustSec database fetched"
  "$deny" --locked --offline check advisories
elif db=$(local_db); then
  echo "advisories: cannot refresh the RustSec database; checking against the local copy in $db" \
    "(last commit $(git -C "$db" show -s --format=%cs HEAD))"
  "$deny" --locked --offline check advisories
else
  reason=$(printf '%s\n' "$fetch_log" | grep -m1 -E 'fatal:|error' | sed 's/^.*\(fatal: \)/\1/' || true)
  {
    echo "=================================================================================="
    echo "advisories: SKIPPED. Known vulnerabilities in dependencies were NOT checked."
    echo "  Why: the RustSec advisory database (github.com/RustSec/advisory-db) cannot be"
    echo "  fetched from this machine and there is no local copy under $db_root."
    [ -n "$reason" ] && echo "  Fetch error: $reason"
    echo "  To check: run ./scripts/deny.sh on a machine that can reach GitHub, or run"
    echo "  'cargo deny fetch db' there and copy $db_root here."
    echo "=================================================================================="
  } >&2
  if [ "${PANELIST_DENY_REQUIRE_ADVISORIES:-0}" = 1 ]; then
    echo "PANELIST_DENY_REQUIRE_ADVISORIES=1: failing" >&2
    exit 1
  fi
fi
