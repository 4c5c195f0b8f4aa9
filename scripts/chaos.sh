#!/usr/bin/env bash
# The chaos tests (tests/chaos.rs) with their long settings: Greenhouse fails for CHAOS_STORM_SECS
# (default here 180 s; CI runs them with 30 s as part of the suite), Redis restarts mid-call, the media
# server loses packets and cuts the session, and `panelist serve` is killed with SIGKILL at random
# moments (CHAOS_SEED replays a run's kill moments; each run prints its seed).
# Usage: ./scripts/chaos.sh [extra nextest args]. Needs what scripts/test.sh sets up (Redis, build tools).
set -euo pipefail
cd "$(dirname "$0")/.."
export CHAOS_STORM_SECS="${CHAOS_STORM_SECS:-180}"
command -v redis-server >/dev/null 2>&1 || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
}
"$(dirname "$0")/transcription-deps.sh"
started=$(date -u +%FT%TZ)
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --test chaos --no-fail-fast --success-output final "$@"
else
  cargo test --test chaos -- --nocapture "$@"
fi
echo "chaos: all scenarios passed (started $started, CHAOS_STORM_SECS=$CHAOS_STORM_SECS)"
