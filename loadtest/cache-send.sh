#!/usr/bin/env bash
# Sluice's cache hits by send mechanism: one table of throughput and CPU per size (1 KiB, 64 KiB, 1 MiB, 64 MiB
# hits: workloads D, C64k, C1, C64) x mechanism (sluice.cache.send = write | send-zc | splice | sendfile, and the
# default auto) x TCP congestion control (cubic, bbr). Needs a Sluice with its cache (peers/sluice.conf's cache
# sections accepted).
#
#   loadtest/cache-send.sh [--out DIR | --save] [--full] [--reps N] [--mechanisms LIST] [--ccs LIST] [--table-only]
#     --out DIR          results directory (default loadtest/results/local/<date>-cache-send, ignored by git)
#     --save             results in loadtest/results/<date>-cache-send, to commit
#     --full             bench.sh --full timing (3 reps x 6 s per cell) instead of --quick (3 reps x 1 s)
#     --reps N           repetitions per cell (medians)
#     --mechanisms LIST  default write,send-zc,splice,sendfile
#     --ccs LIST         default cubic,bbr (each a whole bench.sh run with --cc; the system's setting is restored)
#     --table-only       only (re)build DIR/table.md from the runs already in DIR/<cc>/
#
# Each congestion control is one bench.sh run (no peers, no sluice-copy) with one Sluice target per mechanism
# (--sluice-variant NAME='sluice.cache.send = NAME') beside the default one (send = auto), measured interleaved,
# so the mechanisms are compared within a run. Every cell must have been served from the cache: a cell whose
# origin requests per client request (measured by BenchMain) is over 0.02, or that had a failed run, is marked "!".
# Output: DIR/<cc>/ (bench.sh's results per congestion control) and DIR/table.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out=""
mode=--quick
reps=""
mechanisms="write,send-zc,splice,sendfile"
ccs="cubic,bbr"
table_only=0
save=0
die() { echo "cache-send: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a value"; out="$2"; shift ;;
    --full) mode=--full ;;
    --save) save=1 ;;
    --reps) [ $# -ge 2 ] || die "--reps needs a value"; reps="$2"; shift ;;
    --mechanisms) [ $# -ge 2 ] || die "--mechanisms needs a value"; mechanisms="$2"; shift ;;
    --ccs) [ $# -ge 2 ] || die "--ccs needs a value"; ccs="$2"; shift ;;
    --table-only) table_only=1 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
if [ -z "$out" ]; then
  out=$here/results/$([ "$save" = 1 ] || echo local/)$(date +%Y-%m-%d-%H%M%S)-cache-send
fi
mkdir -p "$out"
workloads=D,C64k,C1,C64

if [ "$table_only" = 0 ]; then
  variant_args=()
  for m in ${mechanisms//,/ }; do
    [[ "$m" =~ ^[a-z0-9-]+$ ]] || die "bad mechanism name: $m"
    variant_args+=(--sluice-variant "$m=sluice.cache.send = $m")
  done
  for cc in ${ccs//,/ }; do
    echo "cache-send: $cc: bench.sh $mode with send = auto, ${mechanisms//,/, }" >&2
    # bench.sh restores the congestion control and stops every server it started, also when it fails
    "$here/bench.sh" "$mode" --peers "" --no-sluice-copy --sluice-cache on --cc "$cc" --workloads "$workloads" \
        ${reps:+--reps "$reps"} "${variant_args[@]}" --out "$out/$cc" \
      || echo "cache-send: the $cc run failed (see $out/$cc); its cells are marked" >&2
  done
fi

# One table: a row per (size, congestion control), a column per mechanism. Bulk sizes: GiB/s and CPU s/GiB; 1 KiB:
# req/s and CPU us/request (summary.csv: 1 workload, 2 target, 3 gib_per_s, 4 req_per_s, 7 cpu_s_per_gib,
# 8 cpu_us_per_req, 11 failed_runs, 13 origin_per_req).
{
  echo "# Sluice cache hits by send mechanism"
  echo
  echo "Medians per cell from bench.sh ($out/<cc>/summary.md has the rest: latency, kernel share, machine CPU)."
  echo "Bulk sizes: GiB/s, CPU s/GiB of Sluice; 1 KiB: req/s, CPU us/request. \"!\" = not all hits (origin"
  echo "requests per client request over 0.02) or a failed run; \"-\" = not measured."
  echo
  header="| size | cc | auto"
  rule="|---|---|---"
  for m in ${mechanisms//,/ }; do header+=" | $m"; rule+="|---"; done
  echo "$header |"
  echo "$rule|"
  for w in ${workloads//,/ }; do
    case "$w" in D) size="1 KiB" ;; C64k) size="64 KiB" ;; C1) size="1 MiB" ;; C64) size="64 MiB" ;; esac
    for cc in ${ccs//,/ }; do
      row="| $size ($w) | $cc"
      for t in sluice $(for m in ${mechanisms//,/ }; do printf 'sluice-%s ' "$m"; done); do
        cell=$(awk -F, -v w="$w" -v t="$t" 'NR > 1 && $1 == w && $2 == t {
                 bad = ($11 + 0 > 0 || $13 == "NaN" || $13 + 0 > 0.02) ? " !" : ""
                 if (w == "D") printf "%.0f req/s, %.1f us/req%s", $4, $8, bad
                 else printf "%.2f GiB/s, %.3f s/GiB%s", $3, $7, bad
                 found = 1 }
               END { if (!found) printf "-" }' "$out/$cc/summary.csv" 2>/dev/null || echo -)
        row+=" | $cell"
      done
      echo "$row |"
    done
  done
} > "$out/table.md"
cat "$out/table.md"
echo "cache-send: table in $out/table.md" >&2
