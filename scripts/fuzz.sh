#!/usr/bin/env bash
# Builds every cargo-fuzz target in fuzz/ and runs each for ${FUZZ_SECS:-30} seconds, one at a time.
# Fails if any target crashes (panic, failed assertion, sanitizer report, timeout, out of memory) and
# says which target and which input. See docs/fuzzing.md.
#
#   FUZZ_SECS=600 ./scripts/fuzz.sh              # every target, 10 minutes each
#   FUZZ_TARGETS="webhook transcript" ./scripts/fuzz.sh
#   FUZZ_SANITIZER=none ./scripts/fuzz.sh        # without AddressSanitizer (the code forbids unsafe)
#
# The committed seed corpus (fuzz/corpus/<target>) is only read; what libFuzzer adds while running goes to
# $FUZZ_CORPUS_DIR/<target> (default /var/cache/panelist/fuzz-corpus, else target/fuzz-corpus), so the
# tree stays clean and later runs start from what earlier ones found. FUZZ_TARGET_DIR overrides the build
# directory (default /var/cache/panelist/fuzz-target, else fuzz/target).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

secs=${FUZZ_SECS:-30}
sanitizer=${FUZZ_SANITIZER:-address}
all_targets="webhook greenhouse_models sdp_answer rtp_opus transcript audio_decode"
read -r -a targets <<<"${FUZZ_TARGETS:-$all_targets}"

cache=/var/cache/panelist
if mkdir -p "$cache/tools" 2>/dev/null && [ -w "$cache/tools" ]; then
  tools=$cache/tools
  corpus_root=${FUZZ_CORPUS_DIR:-$cache/fuzz-corpus}
  target_dir=${FUZZ_TARGET_DIR:-$cache/fuzz-target}
else
  tools=$root/target/tools
  corpus_root=${FUZZ_CORPUS_DIR:-$root/target/fuzz-corpus}
  target_dir=${FUZZ_TARGET_DIR:-$root/fuzz/target}
fi
# Never the main build's directory (CI's CARGO_TARGET_DIR): the instrumented build would evict it.
export CARGO_TARGET_DIR=$target_dir
export PATH="$tools/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz into $tools" >&2
  cargo install cargo-fuzz --locked --root "$tools"
fi

# cargo fuzz passes nightly-only flags (-Zsanitizer, sanitizer-coverage); the stable toolchain accepts
# them with RUSTC_BOOTSTRAP=1. -a keeps debug assertions and overflow checks on in the optimised build.
export RUSTC_BOOTSTRAP=1
build_flags=(-a -s "$sanitizer")

cd fuzz
echo "== fuzz: build (${targets[*]})"
for t in "${targets[@]}"; do
  cargo fuzz build "${build_flags[@]}" "$t"
done

failed=()
for t in "${targets[@]}"; do
  grown="$corpus_root/$t"
  mkdir -p "$grown" "artifacts/$t"
  extra=()
  # symphonia 0.5's metadata readers (FLAC/Ogg Vorbis comments, FLAC pictures) allocate the length a file
  # declares, up to 4 GiB, before reading it; calloc hands that out lazily, so RSS stays small, but
  # libFuzzer's default malloc limit (= rss_limit_mb) reports it as an OOM. docs/fuzzing.md, "Findings".
  [ "$t" = audio_decode ] && extra=(-malloc_limit_mb=4096)
  log=$(mktemp)
  echo "== fuzz: $t for ${secs}s (corpus $grown + fuzz/corpus/$t)"
  # The first corpus directory receives new inputs; the seed directory is only read.
  if nice -n 10 cargo fuzz run "${build_flags[@]}" "$t" "$grown" "corpus/$t" -- \
    -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 "${extra[@]}" -print_final_stats=1 >"$log" 2>&1; then
    grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)|#[0-9]+\s+DONE' "$log" || true
  else
    failed+=("$t")
    tail -n 60 "$log"
    echo "fuzz.sh: $t FAILED; crashing input(s):" >&2
    grep -Eo 'Test unit written to [^ ]+' "$log" | sed 's/^Test unit written to /  /' >&2 || true
    echo "  reproduce: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run ${build_flags[*]} $t <input>" >&2
  fi
  rm -f "$log"
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz.sh: crashes in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} target(s), ${secs}s each, no crash"
