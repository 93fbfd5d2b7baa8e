#!/usr/bin/env bash
# Warm-job impact benchmark (issue #20: "a warm job while clients run at full speed: client p99 within 10% of
# without it"). One Sluice with its cache (peers/sluice.conf, as bench.sh runs it) in front of the loadtest origin,
# on loopback. The clients' hot set is warmed first, so clients measure cache hits; then, per workload, interleaved
# repetitions of
#   alone  the load client (LoadClientMain) at full speed on the hot set;
#   warm   the same client while a warm job (POST /cache/warm, started just before the client) stores DISJOINT
#          keys (/hit/wi-RUN-REP-N, 1 MiB, public, max-age=3600), listed in such number that the job is still
#          running when the client stops (checked with GET /jobs/ID, sampled every 0.5 s; the job is cancelled with
#          DELETE /jobs/ID after the run). A rep whose job was not running throughout is reported and not counted.
# Before the measured reps, one verified pass of each mode checks every body byte; measured passes use --no-verify
# (bodies dropped in the kernel, as bench.sh measures).
#
#   loadtest/warm-impact.sh [options]
#     --workloads LIST   C1,D (default both): C1 = 1 MiB hits, 16 conns; D = 1 KiB hits, 64 conns (bench.sh's)
#     --reps N           repetitions of each mode (default 3; medians are reported)
#     --duration S       measured seconds per client run (default 10)
#     --warmup S         unmeasured lead-in of each client run, seconds (default 2)
#     --quick            1 rep x 3 s (warmup 1 s): a smoke check
#     --warm-options Q   the warm job's options as a query string (default none: priority background,
#                        concurrency 4), e.g. 'priority=normal' or 'rate=100m' or 'concurrency=8&rate=200m'
#     --warm-size SIZE   body size of each warm key (default 1m)
#     --keys N           keys listed per warm job (default 3000 per second of a run; the list is streamed, and
#                        the job is cancelled after the run, so most of them are never fetched)
#     --sluice-set HOCON settings appended to Sluice's config, e.g. 'sluice.cache.memory = 8GiB'
#     --quiet            on a shared machine: before each client run wait (up to 10 min) until processes this
#                        script did not start use < 5% of a core (over 2 s); a run during which they used more
#                        (runs.csv: other_cpu_s, always recorded) is kept as disturbed = 1, not counted, and
#                        redone, up to 3 times
#     --cc ALG           TCP congestion control for the whole run (net.ipv4.tcp_congestion_control, root;
#                        restored on exit). Default: the system's
#     --out DIR          results directory (default loadtest/results/local/<date>-warm-impact, ignored by git)
#     --save             results in loadtest/results/<date>-warm-impact, to commit
#     --keep             keep the scratch directory (config, logs, key lists, job samples)
#
# Ports as bench.sh: Sluice BENCH_PORT_BASE (18080), origin BENCH_ORIGIN_PORT (19000), admin BENCH_ADMIN_PORT
# (19901), all on 127.0.0.1; every process started is stopped by PID on exit, also on failure.
# Output: DIR/runs.csv (one line per client run, with the job's bytes and rate over it), DIR/summary.md (medians
# per workload and mode, p99 ratio warm/alone, throughput ratio, the job's bytes/s), printed at the end.
# Exit status: 0 when every workload's p99 ratio is <= 1.10; 1 when one is not (named), or a run failed
# (errors, wrong bytes); 2 on a usage or setup error.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"
tag=warm-impact

workloads="C1,D"
reps=3
duration=10
warmup=2
warm_options=""
warm_size=1m
keys=""
cc=""
sluice_set=""
quiet=0
out=""
save=0
keep=0
die() { echo "$tag: $*" >&2; exit 2; }
isnum() { [[ "$1" =~ ^[0-9]+([.][0-9]+)?$ ]]; }
while [ $# -gt 0 ]; do
  case "$1" in
    --workloads) [ $# -ge 2 ] || die "--workloads needs a value"; workloads="$2"; shift ;;
    --reps) [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "--reps needs a positive number"; reps="$2"; shift ;;
    --duration) [ $# -ge 2 ] && isnum "$2" || die "--duration needs seconds"; duration="$2"; shift ;;
    --warmup) [ $# -ge 2 ] && isnum "$2" || die "--warmup needs seconds"; warmup="$2"; shift ;;
    --quick) reps=1; duration=3; warmup=1 ;;
    --warm-options) [ $# -ge 2 ] || die "--warm-options needs a value"; warm_options="${2#[?&]}"; shift ;;
    --warm-size) [ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+[kmg]?$ ]] || die "--warm-size needs a size like 1m"; warm_size="$2"; shift ;;
    --keys) [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "--keys needs a positive number"; keys="$2"; shift ;;
    --cc) [ $# -ge 2 ] || die "--cc needs a value"; cc="$2"; shift ;;
    --quiet) quiet=1 ;;
    --sluice-set) [ $# -ge 2 ] || die "--sluice-set needs a value"; sluice_set="$2"; shift ;;
    --out) [ $# -ge 2 ] || die "--out needs a value"; out="$2"; shift ;;
    --save) save=1 ;;
    --keep) keep=1 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
declare -A conns=([C1]=16 [D]=64) size=([C1]=1m [D]=1k)
for w in ${workloads//,/ }; do
  [ -n "${conns[$w]:-}" ] || die "unknown workload $w (C1, D)"
done
[ -n "$workloads" ] || die "no workload"
[[ "$warm_options" =~ ^[A-Za-z0-9=\&%.,_-]*$ ]] || die "--warm-options: a query string like 'priority=normal&rate=100m'"
keys=${keys:-$(awk -v d="$duration" -v w="$warmup" 'BEGIN { printf "%d", 3000 * (d + w + 5) }')}
hit_query='cc=public,max-age%3D3600'   # bench.sh's (BenchMain) hit workloads

base=${BENCH_PORT_BASE:-18080}
origin_port=${BENCH_ORIGIN_PORT:-19000}
admin_port=${BENCH_ADMIN_PORT:-19901}
admin="http://127.0.0.1:$admin_port"
stamp=$(date +%Y-%m-%d-%H%M%S)
if [ -z "$out" ]; then
  out=$here/results/$([ "$save" = 1 ] || echo local/)$stamp-warm-impact
fi

for p in "$origin_port" "$admin_port" "$base"; do
  port_busy "$p" && die "port $p on 127.0.0.1 is in use (a leftover server? ss -ltnp 'sport = :$p'); stop it, or move the run with BENCH_PORT_BASE, BENCH_ORIGIN_PORT, BENCH_ADMIN_PORT"
done
command -v curl >/dev/null 2>&1 || die "needs curl"
command -v jq >/dev/null 2>&1 || die "needs jq"
JAVA=$(find_jdk) || die "needs a JDK 25 or newer"
[ -x "$root/bin/sluice" ] || die "bin/sluice not found"

mkdir -p "$out"
out="$(cd "$out" && pwd)"
run=$(mktemp -d "${TMPDIR:-/tmp}/sluice-warm-impact.XXXXXX")

# ---- process bookkeeping: everything started is stopped by PID on exit ----
declare -A pid=()
setup_done=0
cleanup() {
  local rc=$?
  stop_started
  cc_restore_now
  # a failure before the measurement (a server that did not start, a build that failed) is a setup error
  if [ $rc -ne 0 ] && [ $rc -ne 130 ] && [ "$setup_done" = 0 ]; then rc=2; fi
  rmdir "$run" 2>/dev/null || true   # nothing in it yet (a setup error)
  rmdir "$out" 2>/dev/null || true   # no results
  if [ ! -d "$run" ]; then
    :
  elif [ "$keep" = 1 ] || [ $rc -ne 0 ]; then
    echo "$tag: scratch directory kept: $run" >&2
  else
    rm -rf "$run"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc_set "$cc" || exit 2

build_loadtest   # CP, JFLAGS

# ---- origin and Sluice (bench.sh's way) ----
"$JAVA" "${JFLAGS[@]}" -cp "$CP" dev.sluice.loadtest.OriginMain --host 127.0.0.1 --port "$origin_port" \
    --name warm-impact --threads 1 --cache-mb 256 > "$run/origin.log" 2>&1 &
pid[origin]=$!
wait_port origin "$origin_port" 30

sed -e "s|@PORT@|127.0.0.1:$base|g" -e "s|@ORIGIN@|127.0.0.1:$origin_port|g" -e "s|@ADMIN@|127.0.0.1:$admin_port|g" \
    "$here/peers/sluice.conf" > "$run/sluice.conf"
grep -q 'cache {' "$run/sluice.conf" || die "peers/sluice.conf has no cache section"
[ -z "$sluice_set" ] || printf '%s\n' "$sluice_set" >> "$run/sluice.conf"
"$root/bin/sluice" run "$run/sluice.conf" > "$run/sluice.log" 2>&1 &   # execs java: $! is the JVM
pid[sluice]=$!
wait_port sluice "$base" 600   # the launcher may build first
wait_port sluice "$admin_port" 30
curl -sf "$admin/jobs" > /dev/null || die "the admin API does not answer on $admin (GET /jobs)"

# ---- helpers ----
origin_requests() { curl -sf "http://127.0.0.1:$origin_port/_bench/origin-stats?stats=1" | awk '$1 == "requests" { print $2 }'; }
now() { date +%s.%N; }

# client LABEL WORKLOAD VERIFY(0|1) SECONDS: one LoadClientMain run; its CSV line (LoadClient's columns) on stdout
client() {
  local w=$2 v=() 
  [ "$3" = 1 ] || v=(--no-verify)
  "$JAVA" "${JFLAGS[@]}" -cp "$CP" dev.sluice.loadtest.LoadClientMain --target "127.0.0.1:$base" \
      -c "${conns[$w]}" -d "${4}s" --warmup "${warmup}s" --sizes "${size[$w]}" --prefix /hit --query "$hit_query" \
      --pid "${pid[sluice]}" --pid "${pid[origin]}" --label "$1" --format csv "${v[@]}" > "$run/$1.out" 2>&1 || true
  head -1 "$run/$1.out" >&2
  grep -A3 '^  failure' "$run/$1.out" | head -4 >&2 || true
  tail -1 "$run/$1.out"
}

# Starts a warm job of $keys disjoint keys named wi-$stamp-$1-N (streamed by a background curl), waits until it
# stores; sets job (its id). The job's JSON is sampled every 0.5 s into $run/$1.samples by a background loop.
start_job() {
  local name=$1 i
  awk -v n="$keys" -v p="/hit/wi-$stamp-$name-" -v s="$warm_size" \
      'BEGIN { for (i = 1; i <= n; i++) printf "%s%d?size=%s&cc=public,max-age%%3D3600\n", p, i, s }' > "$run/$name.keys"
  curl -s -o "$run/$name.post" -X POST -H 'Content-Type: text/plain' \
      "$admin/cache/warm?name=$name${warm_options:+&$warm_options}" --data-binary @"$run/$name.keys" &
  pid[post-$name]=$!
  job=""
  for i in $(seq 300); do
    job=$(curl -sf "$admin/jobs" | jq -r --arg n "$name" '.jobs[] | select(.options.name == $n or .name == $n) | .id' | head -1)
    [ -n "$job" ] && break
    if ! kill -0 "${pid[post-$name]}" 2>/dev/null; then
      echo "$tag: the warm job was refused: $(cat "$run/$name.post")" >&2; exit 2
    fi
    sleep 0.1
  done
  [ -n "$job" ] || { echo "$tag: warm job $name not listed by GET /jobs after 30 s" >&2; exit 2; }
  for i in $(seq 300); do
    [ "$(curl -sf "$admin/jobs/$job" | jq -r '.bytes')" -gt 0 ] && break
    sleep 0.1
  done
  # the first sample before the caller's start of the window (job_window needs one), then one every 0.5 s
  sample() { printf '%s %s\n' "$(now)" "$(curl -sf "$admin/jobs/$job" | jq -c '{state, bytes, paused, done: .keys.done}')"; }
  sample > "$run/$name.samples"
  ( while sleep 0.5; do sample; done ) >> "$run/$name.samples" 2>/dev/null &
  pid[sampler-$name]=$!
}

# Stops the sampler, cancels the job, ends its POST.
stop_job() {
  local name=$1
  kill "${pid[sampler-$name]}" 2>/dev/null || true; wait "${pid[sampler-$name]}" 2>/dev/null || true
  unset "pid[sampler-$name]"
  curl -sf -X DELETE "$admin/jobs/$job" > "$run/$name.cancelled" || echo "$tag: DELETE /jobs/$job failed" >&2
  for _ in $(seq 50); do kill -0 "${pid[post-$name]}" 2>/dev/null || break; sleep 0.1; done
  kill "${pid[post-$name]}" 2>/dev/null || true; wait "${pid[post-$name]}" 2>/dev/null || true
  unset "pid[post-$name]"
  rm -f "$run/$name.keys"
}

# The job's state over [t0, t1] from its samples: "running_throughout bytes seconds bytes_per_s paused_samples samples"
job_window() {
  awk -v t0="$2" -v t1="$3" '
    { t = $1; sub(/^[^ ]+ /, ""); line = $0
      st = line; sub(/.*"state":"/, "", st); sub(/".*/, "", st)
      b = line; sub(/.*"bytes":/, "", b); sub(/[,}].*/, "", b)
      pz = (line ~ /"paused":true/)
      if (t <= t0) { b0 = b; tb0 = t; have0 = 1; next }
      if (t > t1 && done1) next
      n++; if (st != "running") bad = 1; if (pz) paused++
      b1 = b; tb1 = t; if (t > t1) done1 = 1 }
    END { if (!have0 || !n) { print "0 0 0 0 0 0"; exit }
          printf "%d %.0f %.2f %.0f %d %d\n", !bad, b1 - b0, tb1 - tb0, (b1 - b0) / (tb1 - tb0), paused, n }' "$1"
}

echo "workload,mode,rep,verified,cc,warm_options,label,ok,req_per_s,gib_per_s,p50_us,p99_us,p999_us,max_us,failed_requests,sluice_cpu_s,origin_cpu_s,client_cpu_s,machine_cpu_s,origin_requests,warm_job,warm_running_throughout,warm_bytes,warm_seconds,warm_bytes_per_s,warm_paused_samples,warm_samples,other_cpu_s,disturbed" > "$out/runs.csv"
cc_now=$(cat "$cc_sysctl")

# CPU ticks of every process that does not descend from this script (all it starts does) and is not a kernel
# thread: "pid ticks" lines
clk_tck=$(getconf CLK_TCK)
other_ticks() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v me=$$ '
    { p = $1; s = $0; sub(/^.*\) /, "", s); split(s, f, " "); pp[p] = f[2]; t[p] = f[12] + f[13] }
    END { for (p in t) { q = p + 0; ours = 0   # numbers: for-in keys are strings ("14" < "2")
            for (n = 0; n < 64 && q > 2; n++) { if (q == me) { ours = 1; break }; q = pp[q] + 0 }
            if (q == 2 || p == 2) ours = 1
            if (!ours) print p, t[p] } }'
}
# ticks used between two other_ticks outputs (a process new in the second counts whole)
ticks_between() { awk 'NR == FNR { a[$1] = $2; next } { d = $2 - ($1 in a ? a[$1] : 0); if (d > 0) s += d } END { print s + 0 }' "$1" "$2"; }
# Before a run (--quiet): wait until the others use < 5% of a core; then watch them (pid[watch]) into
# $run/other-ticks (a running sum)
quiet_start() {
  local i used
  if [ "$quiet" = 1 ]; then
    for i in $(seq 120); do
      other_ticks > "$run/ot.a"; sleep 2; other_ticks > "$run/ot.b"
      used=$(ticks_between "$run/ot.a" "$run/ot.b")
      [ "$used" -le $((clk_tck / 10)) ] && break
      [ "$i" = 1 ] && echo "$tag: waiting for other processes to go quiet (they used $((used * 100 / clk_tck / 2))% of a core)" >&2
      sleep 3
    done
  fi
  echo 0 > "$run/other-ticks"
  ( other_ticks > "$run/ot.prev"; sum=0
    while sleep 1; do
      other_ticks > "$run/ot.now"; sum=$((sum + $(ticks_between "$run/ot.prev" "$run/ot.now")))
      mv "$run/ot.now" "$run/ot.prev"; echo "$sum" > "$run/other-ticks"
    done ) &
  pid[watch]=$!
}
# sets other: the others' CPU seconds since quiet_start
quiet_end() {
  kill "${pid[watch]}" 2>/dev/null || true; wait "${pid[watch]}" 2>/dev/null || true
  unset "pid[watch]"
  other=$(awk -v t="$(cat "$run/other-ticks")" -v hz="$clk_tck" 'BEGIN { printf "%.2f", t / hz }')
}

# one_run WORKLOAD MODE REP VERIFY SECONDS: a client run (alone, or beside a new warm job); appends to runs.csv.
# Returns 3 when a --quiet process overlapped it (recorded, not counted).
one_run() {
  local w=$1 mode=$2 rep=$3 verify=$4 secs=$5 label="$1-$2-$3${6:+-$6}" line o0 o1 t0 t1 jw="" win="" ok=1 dist=0 other
  quiet_start
  o0=$(origin_requests)
  if [ "$mode" = warm ]; then
    start_job "$label"; jw=$job
  else
    # the same monitoring as a warm run's sampler (a curl and a jq every 0.5 s), so that both modes pay for it: on
    # a machine the clients keep busy, those processes alone moved the p99 of 1 MiB hits by ~15%
    ( while sleep 0.5; do curl -sf "$admin/jobs" | jq -c '{jobs: (.jobs | length)}' > /dev/null; done ) 2>/dev/null &
    pid[sampler-$label]=$!
  fi
  t0=$(now)
  line=$(client "$label" "$w" "$verify" "$secs")
  t1=$(now)
  if [ "$mode" = warm ]; then
    sleep 0.6   # one more sample after the client's end
    win=$(job_window "$run/$label.samples" "$t0" "$t1")
    stop_job "$label"
  else
    kill "${pid[sampler-$label]}" 2>/dev/null || true; wait "${pid[sampler-$label]}" 2>/dev/null || true
    unset "pid[sampler-$label]"
    win="- - - - - -"
  fi
  o1=$(origin_requests)
  quiet_end
  # disturbed: the others used more than 5% of a core over the run
  if [ "$quiet" = 1 ] && awk -v o="$other" -v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" 'BEGIN { exit !(o > 0.05 * t) }'; then
    dist=1
    echo "$tag: $label: other processes used ${other} s of CPU during it; not counted, redone" >&2
  fi
  # LoadClient CSV: 1 label,2 ok,3 mode,4 connections,5 seconds,6 requests,7 requests_total,8 bytes,9 req_per_s,
  # 10 gib_per_s,11 p50_us,12 p99_us,13 p999_us,14 max_us,15 mean_us,...,28 machine_cpu_s,...,31 pid_cpu
  awk -F, -v OFS=, -v w="$w" -v m="$mode" -v r="$rep" -v vf="$verify" -v cc="$cc_now" -v wo="${warm_options:-default}" \
      -v sp="${pid[sluice]}" -v op="${pid[origin]}" -v oreq="$((o1 - o0))" -v job="${jw:--}" -v win="$win" -v dist="$dist" -v other="$other" '
    NF >= 31 { n = split($31, pc, ";"); s = o = "";
      for (i = 1; i <= n; i++) { split(pc[i], kv, "="); if (kv[1] == sp) s = kv[2]; if (kv[1] == op) o = kv[2] }
      split(win, jwv, " ")
      # failed requests: errors..wrong_range (16..22)
      f = $16 + $17 + $18 + $19 + $20 + $21 + $22
      print w, m, r, vf, cc, wo, $1, $2, $9, $10, $11, $12, $13, $14, f, s, o, $27, $28, oreq, job, jwv[1], jwv[2], jwv[3], jwv[4], jwv[5], jwv[6], other, dist }' \
      <<< "$line" >> "$out/runs.csv"
  tail -1 "$out/runs.csv" | grep -q ",true," || { echo "$tag: $label FAILED (see $run/$label.out)" >&2; ok=0; }
  if [ "$mode" = warm ]; then
    set -- $win
    if [ "$1" != 1 ]; then
      echo "$tag: $label: the warm job was not running for the whole client run ($(tail -2 "$run/$label.samples" | tr '\n' ' ')): list more --keys" >&2
      ok=0
    else
      echo "$tag: $label: warm job $jw stored $(awk -v b="$2" -v s="$4" 'BEGIN { printf "%.0f MiB at %.0f MiB/s", b / 1048576, s / 1048576 }') during the client run ($5 of $6 samples paused)" >&2
    fi
  fi
  sleep 1
  if [ $dist = 1 ]; then return 3; fi
  [ $ok = 1 ] || failures=$((failures + 1))
}
# counted_run ARGS...: one_run, redone (up to 3 times) while a --quiet process overlaps it
counted_run() {
  local i
  for i in 1 2 3 4; do
    one_run "$@" "$([ $i = 1 ] || echo "redo$i")" && return 0 || [ $? = 3 ] || return 1
  done
  echo "$tag: $1 $2 rep $3: overlapped 4 times; not counted" >&2
}

{
  echo "# Warm-job impact, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- machine: $(uname -srm), $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- java: $("$JAVA" -version 2>&1 | head -1); TCP congestion control: $cc_now$([ -n "$cc_restore" ] && echo " (--cc; system default $cc_restore)")"
  echo "- sluice: $(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet HEAD -- . ':!loadtest' 2>/dev/null || echo ' (work tree modified)'), peers/sluice.conf (cache memory 1 GiB, /hit/ cached)${sluice_set:+, plus \`$(echo "$sluice_set" | tr '\n' ' ')\`}"
  echo "- client: LoadClientMain, 1 thread, ${warmup} s warmup + ${duration} s measured per run, --no-verify (one verified run per mode first); reps: $reps per mode, alone/warm interleaved (ABBA)"
  [ "$quiet" = 0 ] || echo "- --quiet: each run started once other processes used < 5% of a core; a run during which they used more was redone (runs.csv: other_cpu_s, disturbed)"
  echo "- warm job: POST /cache/warm?${warm_options:-(defaults: priority background, concurrency 4)}, $keys keys of $warm_size (disjoint from the clients'), started before each warm run, cancelled after it"
} > "$out/machine.md"

setup_done=1
failures=0
for w in ${workloads//,/ }; do
  echo "$tag: $w: warming the hot set" >&2
  "$JAVA" "${JFLAGS[@]}" -cp "$CP" dev.sluice.loadtest.LoadClientMain --target "127.0.0.1:$base" -c "${conns[$w]}" \
      -n $((conns[$w] * 4)) --sizes "${size[$w]}" --prefix /hit --query "$hit_query" --label "$w-fill" > "$run/$w-fill.out" 2>&1 \
    || { cat "$run/$w-fill.out" >&2; echo "$tag: warming the hot set of $w failed" >&2; exit 1; }
  echo "$tag: $w: verified runs (every byte checked)" >&2
  counted_run "$w" alone v 1 2
  counted_run "$w" warm v 1 2
  for r in $(seq "$reps"); do
    if [ $((r % 2)) = 1 ]; then modes="alone warm"; else modes="warm alone"; fi
    for m in $modes; do counted_run "$w" "$m" "$r" 0 "$duration"; done
  done
done

# ---- summary: medians of the measured runs (verified runs and warm runs whose job stopped early left out) ----
median() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { # col WORKLOAD MODE FIELD: the field of the counted runs, one a line
  awk -F, -v w="$1" -v m="$2" -v f="$3" 'NR > 1 && $1 == w && $2 == m && $4 == 0 && $8 == "true" && $15 == 0 && $29 == 0 && (m == "alone" || $22 == 1) { print $f }' "$out/runs.csv"
}
verdict=0
missed=()
{
  cat "$out/machine.md"
  echo
  echo "Medians over the measured reps (n = counted runs per mode). p99 ratio = p99 warm / p99 alone (goal <= 1.10);"
  echo "req/s ratio = req/s warm / req/s alone; job MiB/s = what the warm job stored per second during the warm runs."
  echo
  echo "| workload | cc | warm options | n | req/s alone | req/s warm | req/s ratio | p50 ms alone / warm | p99 ms alone | p99 ms warm | p99 ratio | p99.9 ms alone / warm | job MiB/s | Sluice CPU s/s alone / warm | goal |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for w in ${workloads//,/ }; do
    na=$(col "$w" alone 9 | wc -l); nw=$(col "$w" warm 9 | wc -l)
    ra=$(col "$w" alone 9 | median); rw=$(col "$w" warm 9 | median)
    p50a=$(col "$w" alone 11 | median); p50w=$(col "$w" warm 11 | median)
    p99a=$(col "$w" alone 12 | median); p99w=$(col "$w" warm 12 | median)
    p999a=$(col "$w" alone 13 | median); p999w=$(col "$w" warm 13 | median)
    jr=$(col "$w" warm 25 | median)
    ca=$(awk -F, -v w="$w" -v d="$duration" 'NR > 1 && $1 == w && $2 == "alone" && $4 == 0 && $29 == 0 { print $16 / d }' "$out/runs.csv" | median)
    cw=$(awk -F, -v w="$w" -v d="$duration" 'NR > 1 && $1 == w && $2 == "warm" && $4 == 0 && $29 == 0 { print $16 / d }' "$out/runs.csv" | median)
    awk -v w="$w" -v cc="$cc_now" -v wo="${warm_options:-default}" -v na="$na" -v nw="$nw" -v ra="$ra" -v rw="$rw" \
        -v p50a="$p50a" -v p50w="$p50w" -v p99a="$p99a" -v p99w="$p99w" -v p999a="$p999a" -v p999w="$p999w" \
        -v jr="$jr" -v ca="$ca" -v cw="$cw" 'BEGIN {
      ratio = (p99a > 0 && nw > 0) ? p99w / p99a : -1
      printf "| %s | %s | %s | %d / %d | %.0f | %.0f | %.3f | %.2f / %.2f | %.2f | %.2f | %s | %.2f / %.2f | %.0f | %.2f / %.2f | %s |\n",
        w, cc, wo, na, nw, ra, rw, (ra > 0 ? rw / ra : 0), p50a / 1000, p50w / 1000, p99a / 1000, p99w / 1000,
        (ratio < 0 ? "n/a" : sprintf("**%.3f**", ratio)), p999a / 1000, p999w / 1000, jr / 1048576, ca, cw,
        (ratio < 0 ? "no data" : ratio <= 1.10 ? "met" : "MISSED") }'
  done
  echo
  echo "CPU per second of measured run (medians; cores, of $(nproc)): where the warm job's work comes from"
  echo
  echo "| workload | mode | Sluice | origin | load client | machine |"
  echo "|---|---|---|---|---|---|"
  for w in ${workloads//,/ }; do
    for m in alone warm; do
      row="| $w | $m"
      for f in 16 17 18 19; do
        row+=" | $(awk -F, -v w="$w" -v m="$m" -v d="$duration" -v f="$f" 'NR > 1 && $1 == w && $2 == m && $4 == 0 && $29 == 0 { print $f / d }' "$out/runs.csv" | median | awk '{ printf "%.2f", $1 }')"
      done
      echo "$row |"
    done
  done
} > "$out/summary.md"
for w in ${workloads//,/ }; do
  line=$(grep -m1 "^| $w |" "$out/summary.md") # the summary row, not the CPU table's rows
  case "$line" in
    *"| met |") ;;
    *) verdict=1; missed+=("$w") ;;
  esac
done
echo >> "$out/summary.md"
echo "Runs: runs.csv (verified runs: verified = 1, and with --quiet, runs during which other processes used > 5% of a core: disturbed = 1, not counted)." >> "$out/summary.md"
cat "$out/summary.md"
echo
echo "$tag: results in $out" >&2
if [ "$failures" -gt 0 ]; then
  echo "$tag: $failures run(s) FAILED or had a warm job that was not running throughout (see above)" >&2
  verdict=1
fi
if [ ${#missed[@]} -gt 0 ]; then
  echo "$tag: p99 ratio over 1.10 (or not measured) for: ${missed[*]}" >&2
fi
exit $verdict
