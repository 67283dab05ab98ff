#!/usr/bin/env bash
# Coverage-guided fuzzing of the C scanner core (smsc/sip/_scan_core.c) with libFuzzer under
# AddressSanitizer and UndefinedBehaviorSanitizer: `tests/fuzz_native/run.sh [seconds]`
# (default 600). Fails on any crash, leak, sanitizer report or broken invariant; the input
# that did it is left in tests/fuzz_native/crashes/. Needs clang and libFuzzer
# (Debian: apt-get install clang libclang-rt-14-dev).
set -euo pipefail
seconds=${1:-600}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$here/crashes" "$work/corpus"

"${CC_FUZZ:-clang}" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -Wall -Wextra -I "$root/smsc/sip" \
  "$here/scan_fuzzer.c" "$root/smsc/sip/_scan_core.c" -o "$work/scan_fuzzer"

# New inputs go to the scratch corpus; the checked-in seeds are only read.
"$work/scan_fuzzer" "$work/corpus" "$here/corpus" \
  -dict="$here/scan.dict" \
  -max_total_time="$seconds" \
  -max_len=8192 \
  -timeout=10 \
  -rss_limit_mb=2048 \
  -print_final_stats=1 \
  -artifact_prefix="$here/crashes/"
