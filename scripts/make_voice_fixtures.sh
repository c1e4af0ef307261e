#!/usr/bin/env bash
# Speak every phrase of FIXTURE_DIR/phrases.tsv (default tests/fixtures/voice; also .../drawer and
# .../unseen) with espeak-ng and write FILE.wav next to it as 16 kHz mono 16-bit PCM (what pocketsphinx's
# en-US model expects). Deterministic: same espeak-ng version, same bytes. Needs the Debian packages
# espeak-ng and sox (apt-get install -y espeak-ng sox; scripts/install_test_deps.sh does it).
# Usage: scripts/make_voice_fixtures.sh [FIXTURE_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/tests/fixtures/voice}
list=$dir/phrases.tsv

for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found: apt-get install -y espeak-ng sox" >&2; exit 2; }
done
[ -f "$list" ] || { echo "error: no phrase list $list" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
count=0
# columns: file voice wpm phrase kind target expect (tab-separated; '#' lines are comments)
while IFS=$'\t' read -r file voice wpm phrase _; do
  case "$file" in ''|'#'*) continue ;; esac
  [[ "$file" =~ ^[a-z0-9_]+$ ]] || { echo "error: bad fixture name '$file' in $list" >&2; exit 2; }
  # espeak-ng writes 22.05 kHz. -D: no dither (it is random noise: the bytes would change on every run);
  # pad: a little silence either side, as someone pressing "record" leaves
  espeak-ng -v "$voice" -s "$wpm" -w "$tmp/raw.wav" "$phrase"
  sox -D "$tmp/raw.wav" -r 16000 -c 1 -b 16 -e signed-integer "$dir/$file.wav" pad 0.2 0.3
  count=$((count + 1))
done < "$list"
echo "wrote $count fixtures to $dir ($(du -ch "$dir"/*.wav | tail -1 | cut -f1) in all)"
