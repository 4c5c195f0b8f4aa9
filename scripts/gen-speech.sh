#!/usr/bin/env bash
# Generates the test room's speech: one 48 kHz mono 16-bit WAV per speaker from a turn-per-line script.
#
#   scripts/gen-speech.sh [OUT_DIR] [SCRIPT]
#
# Defaults: OUT_DIR=target/speech, SCRIPT=bots/testdata/interview.txt. Needs espeak-ng and sox
# (apt-get install espeak-ng sox). Output is deterministic for a given espeak-ng version, so tests generate
# it at test time instead of checking WAVs in. Speakers: interviewer (en-us+m3), candidate (en-gb+f3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$here/target/speech}"
script="${2:-$here/bots/testdata/interview.txt}"
pause=0.3 # seconds of silence after each turn

for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null || { echo "gen-speech: $tool is not installed" >&2; exit 2; }
done

voice_for() {
  case "$1" in
    interviewer) echo "en-us+m3" ;;
    candidate) echo "en-gb+f3" ;;
    *) echo "gen-speech: unknown speaker '$1' (interviewer or candidate)" >&2; return 1 ;;
  esac
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

turn=0
while IFS= read -r line || [[ -n "$line" ]]; do
  [[ -z "${line// }" || "$line" == \#* ]] && continue
  speaker="${line%%:*}"
  text="${line#*:}"
  text="${text# }"
  voice="$(voice_for "$speaker")"
  n="$(printf '%03d' "$turn")"
  espeak-ng -v "$voice" -s 165 -w "$tmp/raw.wav" "$text"
  sox "$tmp/raw.wav" -r 48000 -c 1 -b 16 "$tmp/utt.wav" pad 0 "$pause"
  # The other speaker is silent for exactly as long.
  sox "$tmp/utt.wav" "$tmp/silence.wav" vol 0
  for who in interviewer candidate; do
    if [[ "$who" == "$speaker" ]]; then
      cp "$tmp/utt.wav" "$tmp/$who.$n.wav"
    else
      cp "$tmp/silence.wav" "$tmp/$who.$n.wav"
    fi
  done
  turn=$((turn + 1))
done < "$script"

[[ "$turn" -gt 0 ]] || { echo "gen-speech: no turns in $script" >&2; exit 1; }
for who in interviewer candidate; do
  sox "$tmp/$who".*.wav "$out/$who.wav"
done
echo "gen-speech: wrote $out/interviewer.wav and $out/candidate.wav ($(soxi -D "$out/interviewer.wav") s)"
