#!/usr/bin/env bash
# Fuzzing: runs Jazzer fuzz targets (coverage-guided, one after another) for a while each. `mvn verify` only runs
# them over their committed inputs (the regression corpus); this is the long run.
#
#   proxy/fuzz.sh [TARGET|all] [DURATION]
#     TARGET     HeadFuzzTest#requestHead, HeadFuzzTest#responseHead, ChunkedFuzzTest#requestBody,
#                ChunkedFuzzTest#responseBody, RangeFuzzTest#parse, S3SigningFuzzTest#sign, or all (default)
#     DURATION   per target, as Jazzer reads it: 90s, 10m, 1h, "1h 30m" (default 10m)
#
# The corpus a run grows is kept in proxy/.cifuzz-corpus/ (not in git) and the next run starts from it. A finding
# stops its target: Jazzer writes the input to proxy/src/test/resources/dev/sluice/proxy/<Class>Inputs/<method>/
# (crash-<sha1>), where `mvn verify` replays it from then on: fix it, then commit it with the fix. Each target's
# output goes to proxy/target/fuzz/<Class>-<method>.log; its last lines (executions, exec/s, coverage) are printed.
# One target uses one core; -Dtest filters keep the other modules' tests out.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
all=(HeadFuzzTest#requestHead HeadFuzzTest#responseHead ChunkedFuzzTest#requestBody ChunkedFuzzTest#responseBody RangeFuzzTest#parse
     S3SigningFuzzTest#sign)

target="${1:-all}"
duration="${2:-10m}"
if [[ "$target" == all ]]; then
  targets=("${all[@]}")
else
  targets=("$target")
fi

# seconds in a Jazzer duration ("1h 2m 30s", "90s", "10m", a bare number is seconds)
seconds=0
for part in $duration; do
  case "$part" in
    *h) seconds=$((seconds + ${part%h} * 3600)) ;;
    *m) seconds=$((seconds + ${part%m} * 60)) ;;
    *s) seconds=$((seconds + ${part%s})) ;;
    *) seconds=$((seconds + part)) ;;
  esac
done
if ((seconds <= 0)); then
  echo "fuzz.sh: cannot read duration '$duration'" >&2
  exit 2
fi

mkdir -p "$here/target/fuzz"
status=0
for t in "${targets[@]}"; do
  log="$here/target/fuzz/${t/\#/-}.log"
  echo "== $t for $duration ($(date -u +%FT%TZ)), log: ${log#"$root"/}"
  # JUnit's default timeout (junit-platform.properties) bounds the whole fuzzing invocation and Jazzer also turns it
  # into libFuzzer's per-input timeout: raise the first over the duration, and put the second back to 30 s
  # (jazzer.internal.arg.* are libFuzzer arguments, appended last so they win). Surefire's fork timeout likewise.
  # Inputs up to 8 KiB (libFuzzer's default is 4 KiB): enough for a chunk size line over its 4 KiB limit.
  set +e
  (cd "$root" && JAZZER_FUZZ=1 mvn -B -pl proxy -am test -Dtest="$t" -Dsurefire.failIfNoSpecifiedTests=false \
      -Djazzer.max_duration="$duration" \
      -Djunit.jupiter.execution.timeout.default="$((seconds + 300))s" \
      -Djazzer.internal.arg.0=fuzz -Djazzer.internal.arg.1=-timeout=30 -Djazzer.internal.arg.2=-max_len=8192 \
      -Dsluice.test.forkTimeout="$((seconds + 600))") >"$log" 2>&1
  rc=$?
  set -e
  grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 || true
  grep -E '^Done [0-9]+ runs in' "$log" || true
  if ((rc != 0)); then
    status=1
    echo "!! $t failed (exit $rc): a finding or a build error; see the log. Findings:"
    grep -E 'crash-[0-9a-f]+|== Java Exception|FuzzTestFinding|AssertionFailedError' "$log" | head -n 10 || true
  fi
done
exit "$status"
