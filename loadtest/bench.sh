#!/usr/bin/env bash
# Peer benchmark: Sluice against nginx, HAProxy, Varnish and Apache Traffic Server on loopback, same origin, same load client,
# interleaved in one run (costs drift on this shared machine: compare within a run, by ratio).
#
#   loadtest/bench.sh [--quick | --full | --smoke] [options]
#     --quick            default: 3 reps x 1 s per cell, all targets (< 4 min)
#     --full             3 reps x 6 s per cell, every workload but C64k and E (< 25 min)
#                        (both first run every target with every workload, unmeasured, 1 s / 3 s per cell:
#                        a JVM server needs its first seconds to compile and to fault in its heap)
#     --smoke            Sluice only (splice and copy), 1 rep x 1 s, every byte verified, buffers leak-checked
#                        (< 1 min; what CI can run)
#     --peers LIST       comma-separated subset of nginx,haproxy,varnish,ats (default all; "" for none)
#     --no-sluice        benchmark the peers only
#     --no-sluice-copy   skip the second Sluice (zero-copy = copy) that runs beside the splicing one
#     --workloads LIST   subset of A1,A8,B,C1,C64,C64k,D,Dp,F,E,E64: A = 64 MiB pass-through (1/8 conns), B = 1 MiB
#                        pass-through, C1/C64/C64k = 1 MiB/64 MiB/64 KiB cache hits, D = 1 KiB cache hits, Dp = 1 KiB
#                        pass-through, F = 1 MiB cache fills (misses on unique keys that store), E/E64 = chunked
#     --reps N           repetitions (medians are reported)
#     --verify           measure with full byte verification (default: bodies dropped in the kernel,
#                        after a verified correctness check of every target)
#     --out DIR          results directory (default loadtest/results/local/<date>-<mode>, ignored by git)
#     --save             results in loadtest/results/<date>-<mode>, to commit (a run README.md or FINDINGS.md cites)
#     --keep             keep the scratch directory (configs, logs, caches)
#     --cc ALG           TCP congestion control for the whole run (net.ipv4.tcp_congestion_control, root;
#                        restored on exit). Every proxy, the origin and the client use it alike. Default: the
#                        system's. bbr on loopback (without the fq qdisc) paces with one hrtimer per 64 KiB
#                        segment and costs every proxy ~3x CPU per GiB here; cubic shows the proxies' own costs
#     --sluice-variant NAME=HOCON  one more Sluice target, sluice-NAME: peers/sluice.conf plus HOCON (repeatable, up
#                        to 8; ports BENCH_PORT_BASE+10+i, admin BENCH_ADMIN_PORT+10+i), measured interleaved with the
#                        rest, e.g. 'send-zc=sluice.cache.send = send-zc' (loadtest/cache-send.sh uses it)
#     --sluice-cache M   auto (default) | on | off: the cache sections of peers/sluice*.conf (between the cache-begin
#                        and cache-end lines) kept or dropped; auto keeps them if `bin/sluice check-config` accepts
#                        them (a build without a cache rejects them: its C, D and F rows are then pass-through)
#     --ats-stats        load Traffic Server's stats_over_http plugin and record its cache counters (RAM cache hits
#                        and misses) in ats-stats.txt after the run (off by default: the plugin hooks every request)
#     --sluice-set HOCON extra settings appended to both Sluice configs (recorded in machine.md), e.g.
#                        'sluice.listener-defaults.tcp-congestion = cubic' or 'sluice.splice.batch-max = 1MiB'
#     --haproxy-bufsize N  HAProxy's tune.bufsize in bytes (default: HAProxy's own, 16384). 65536 makes its
#                        1 MiB cache hits (C1) ~20% cheaper and its spliced 1 MiB pass-through (B) ~11% dearer
#     --sched POLICY     normal (default) | batch: every proxy's threads under this Linux scheduling policy, alike:
#                        Sluice by sluice.event-loop-scheduling, the peers started with `chrt --batch 0`
#                        (the origin and the load client stay normal)
#
# Installs nginx, haproxy, varnish, trafficserver (and gnuplot-nox for the chart) with apt-get if missing. Starts every
# server itself on fixed loopback ports (override with BENCH_PORT_BASE, default 18080: sluice +0, nginx +1,
# haproxy +2, varnish +3, sluice-copy +4, ats +5; origin BENCH_ORIGIN_PORT 19000, Sluice admin BENCH_ADMIN_PORT 19901)
# and stops them by PID on exit. Sluice runs as `bin/sluice run CONFIG` (override the command with SLUICE_CMD).
# Output: runs.csv, summary.csv, summary.md, chart.png, machine.md in the results directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"
tag=bench

mode=quick
peers="nginx,haproxy,varnish,ats"
with_sluice=1
with_copy=1
reps=""
workloads=""
out=""
verify=""
keep=0
save=0
cc=""
sluice_set=""
sched=normal
haproxy_bufsize=""
sluice_cache=auto
ats_stats=0
variants=()
die() { echo "bench: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --smoke) mode=smoke ;;
    --peers) [ $# -ge 2 ] || die "--peers needs a value"; peers="$2"; shift ;;
    --no-sluice) with_sluice=0 ;;
    --no-sluice-copy) with_copy=0 ;;
    --workloads) [ $# -ge 2 ] || die "--workloads needs a value"; workloads="$2"; shift ;;
    --reps) [ $# -ge 2 ] || die "--reps needs a value"; reps="$2"; shift ;;
    --verify) verify=--verify ;;
    --out) [ $# -ge 2 ] || die "--out needs a value"; out="$2"; shift ;;
    --keep) keep=1 ;;
    --save) save=1 ;;
    --cc) [ $# -ge 2 ] || die "--cc needs a value"; cc="$2"; shift ;;
    --sluice-set) [ $# -ge 2 ] || die "--sluice-set needs a value"; sluice_set="$2"; shift ;;
    --sluice-cache) [ $# -ge 2 ] || die "--sluice-cache needs a value"; sluice_cache="$2"; shift
      case "$sluice_cache" in auto|on|off) ;; *) die "--sluice-cache: auto, on or off" ;; esac ;;
    --ats-stats) ats_stats=1 ;;
    --sluice-variant) [ $# -ge 2 ] || die "--sluice-variant needs NAME=HOCON"
      [[ "$2" =~ ^[a-z0-9][a-z0-9-]*=.+ ]] || die "--sluice-variant needs NAME=HOCON (NAME: a-z, 0-9, -)"
      variants+=("$2"); [ ${#variants[@]} -le 8 ] || die "at most 8 --sluice-variant"; shift ;;
    --sched) [ $# -ge 2 ] || die "--sched needs a value"; sched="$2"; shift ;;
    --haproxy-bufsize) [ $# -ge 2 ] || die "--haproxy-bufsize needs a value"; haproxy_bufsize="$2"; shift
      [[ "$haproxy_bufsize" =~ ^[0-9]+$ ]] || die "--haproxy-bufsize needs a number of bytes" ;;
    -h|--help) sed -n '2,48p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

case "$mode" in
  smoke) peers=""; with_sluice=1; reps=${reps:-1}; duration=1s; warmup=500ms; settle=0s; workloads=${workloads:-A1,B,C1,D}; verify=--verify ;;
  quick) reps=${reps:-3}; duration=1s; warmup=400ms; settle=1s; workloads=${workloads:-A1,A8,B,C1,C64,D} ;;
  full)  reps=${reps:-3}; duration=6s; warmup=2s; settle=3s; workloads=${workloads:-A1,A8,B,C1,C64,D,Dp,F} ;;
esac
peers=${peers//,/ }
for p in $peers; do
  case "$p" in nginx|haproxy|varnish|ats) ;; *) die "unknown peer $p (nginx, haproxy, varnish, ats)" ;; esac
done
[ "$with_sluice" = 1 ] || [ -n "$peers" ] || die "nothing to benchmark"
case "$sched" in
  normal) as_peer=() ;;
  batch) command -v chrt >/dev/null 2>&1 || die "--sched batch needs chrt (util-linux)"; as_peer=(chrt --batch 0) ;;
  *) die "unknown --sched $sched (normal, batch)" ;;
esac

base=${BENCH_PORT_BASE:-18080}
origin_port=${BENCH_ORIGIN_PORT:-19000}
admin_port=${BENCH_ADMIN_PORT:-19901}
declare -A port=([sluice]=$base [nginx]=$((base + 1)) [haproxy]=$((base + 2)) [varnish]=$((base + 3)) [sluice-copy]=$((base + 4))
                 [ats]=$((base + 5)))
variant_names=()
for i in "${!variants[@]}"; do
  v=${variants[$i]%%=*}
  port[sluice-$v]=$((base + 10 + i))
  variant_names+=("$v")
done
workers=$(nproc)
stamp=$(date +%Y-%m-%d-%H%M%S)
# A run is kept in git only when asked (--save, or --out into loadtest/results/): most runs are looked at once.
if [ -z "$out" ]; then
  out=$here/results/$([ "$save" = 1 ] || echo local/)$stamp-$mode
fi
mkdir -p "$out"
out="$(cd "$out" && pwd)"
run=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
chmod 755 "$run"
# nginx's proxy_cache and Traffic Server's cache span live on tmpfs, as an operator would put them for a fair
# memory-cache comparison
shm_dir=$(mktemp -d /dev/shm/sluice-bench.XXXXXX)
chmod 755 "$shm_dir"

# ---- process bookkeeping: everything we start is stopped by PID on exit ----
declare -A pid=()
cleanup() {
  local rc=$?
  stop_started
  rm -rf "$shm_dir"
  if [ -n "${cc_restore:-}" ]; then
    echo "$cc_restore" > "$cc_sysctl" || echo "bench: could not restore tcp_congestion_control=$cc_restore" >&2
  fi
  if [ "$keep" = 1 ] || [ $rc -ne 0 ]; then
    echo "bench: scratch directory kept: $run" >&2
  else
    rm -rf "$run"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- congestion control for the run (--cc), restored by cleanup ----
cc_sysctl=/proc/sys/net/ipv4/tcp_congestion_control
cc_before=$(cat "$cc_sysctl")
if [ -n "$cc" ] && [ "$cc" != "$cc_before" ]; then
  grep -qw -- "$cc" /proc/sys/net/ipv4/tcp_available_congestion_control \
    || modprobe "tcp_$cc" 2>/dev/null || true
  grep -qw -- "$cc" /proc/sys/net/ipv4/tcp_available_congestion_control \
    || die "--cc $cc: not available (have: $(cat /proc/sys/net/ipv4/tcp_available_congestion_control))"
  echo "$cc" > "$cc_sysctl" 2>/dev/null || die "--cc $cc: cannot write $cc_sysctl (root needed)"
  cc_restore=$cc_before
fi


# Every port this run listens on must be free first: Sluice and HAProxy bind with SO_REUSEPORT, so a stale
# server left on one would silently take part of the load, and its CPU would be missing from the figures
# (seen: a Sluice forgotten on 18080 took half of the load meant for the build being measured).
used_ports=("$origin_port")
[ "$with_sluice" = 1 ] && used_ports+=("$admin_port" "${port[sluice]}")
[ "$with_sluice" = 1 ] && [ "$with_copy" = 1 ] && used_ports+=($((admin_port + 1)) "${port[sluice-copy]}")
for p in $peers; do used_ports+=("${port[$p]}"); done
if [ "$with_sluice" = 1 ]; then
  for i in "${!variants[@]}"; do used_ports+=($((admin_port + 10 + i)) "${port[sluice-${variant_names[$i]}]}"); done
fi
for p in "${used_ports[@]}"; do
  port_busy "$p" && { rmdir "$out" 2>/dev/null; die "port $p on 127.0.0.1 is in use (a leftover server? see: ss -ltnp 'sport = :$p'); stop it, or move the run with BENCH_PORT_BASE, BENCH_ORIGIN_PORT, BENCH_ADMIN_PORT"; }
done

render() { # template output: fills @PORT@ @PORT_NUM@ @ORIGIN@ @ORIGIN_HOST@ @ORIGIN_PORT@ @ADMIN@ @RUN@ @WORKERS@ @SHM@
  sed -e "s|@PORT@|127.0.0.1:$3|g" -e "s|@PORT_NUM@|$3|g" -e "s|@ORIGIN@|127.0.0.1:$origin_port|g" -e "s|@ORIGIN_HOST@|127.0.0.1|g" \
      -e "s|@ORIGIN_PORT@|$origin_port|g" -e "s|@ADMIN@|127.0.0.1:$admin_port|g" -e "s|@RUN@|$run|g" \
      -e "s|@WORKERS@|$workers|g" -e "s|@SHM@|$shm_dir|g" "$1" > "$2"
}

# ---- tools (java_major, find_jdk, port_busy: lib.sh) ----
JAVA=$(find_jdk) || die "needs a JDK 25 or newer"

need=()
for p in $peers; do
  case "$p" in
    nginx) command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx) ;;
    haproxy) command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy) ;;
    varnish) command -v varnishd >/dev/null 2>&1 || [ -x /usr/sbin/varnishd ] || need+=(varnish) ;;
    ats) command -v traffic_server >/dev/null 2>&1 || need+=(trafficserver) ;;
  esac
done
if [ "$mode" != smoke ] && ! command -v gnuplot >/dev/null 2>&1; then need+=(gnuplot-nox); fi
if [ "$mode" = smoke ] && ! command -v curl >/dev/null 2>&1; then need+=(curl); fi   # the leak check
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}" >&2
  sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_ apt-get update -qq >&2
  # policy-rc.d (if the system has one) keeps the packages' own services from starting
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq "${need[@]}" >&2
fi
export PATH="$PATH:/usr/sbin:/sbin"

build_loadtest   # sets CP and JFLAGS

for name in sluice sluice-copy $peers; do
  [ "$name" = sluice ] && [ "$with_sluice" = 0 ] && continue
  [ "$name" = sluice-copy ] && { [ "$with_sluice" = 0 ] || [ "$with_copy" = 0 ]; } && continue
  if port_busy "${port[$name]}"; then die "port ${port[$name]} ($name) is already in use"; fi
done
if port_busy "$origin_port"; then die "origin port $origin_port is already in use"; fi

# ---- start: origin, then the targets ----
"$JAVA" "${JFLAGS[@]}" -cp "$CP" dev.sluice.loadtest.OriginMain --host 127.0.0.1 --port "$origin_port" \
    --name bench --threads 1 --cache-mb 256 > "$run/origin.log" 2>&1 &
pid[origin]=$!
wait_port origin "$origin_port" 30

targets=()
# --sluice-cache auto: keep the cache sections if this build accepts them (check-config, which also builds it)
if [ "$with_sluice" = 1 ] && [ "$sluice_cache" = auto ]; then
  if [ -n "${SLUICE_CMD:-}" ]; then
    sluice_cache=on   # a custom command: no check-config to ask
  else
    [ -x "$root/bin/sluice" ] || die "bin/sluice not found (use --no-sluice, or SLUICE_CMD)"
    render "$here/peers/sluice.conf" "$run/cache-check.conf" "${port[sluice]}"
    if "$root/bin/sluice" check-config "$run/cache-check.conf" > "$run/cache-check.log" 2>&1; then
      sluice_cache=on
    else
      sed '/# cache-begin/,/# cache-end/d' "$run/cache-check.conf" > "$run/cache-check-off.conf"
      "$root/bin/sluice" check-config "$run/cache-check-off.conf" >> "$run/cache-check.log" 2>&1 \
        || { cat "$run/cache-check.log" >&2; die "bin/sluice check-config rejects peers/sluice.conf with and without its cache sections"; }
      sluice_cache=off
      echo "bench: this Sluice rejects the cache settings ($(grep -m1 'unknown key' "$run/cache-check.log" || echo see $run/cache-check.log)): its C, D and F rows are pass-through (--sluice-cache off)" >&2
    fi
  fi
fi
start_sluice() { # name config-template admin-port [extra HOCON]
  render "$here/peers/$2" "$run/$1.conf" "${port[$1]}"
  [ "$sluice_cache" = off ] && sed -i '/# cache-begin/,/# cache-end/d' "$run/$1.conf"
  sed -i "s|127.0.0.1:$admin_port|127.0.0.1:$3|" "$run/$1.conf"
  [ -n "$sluice_set" ] && printf '%s\n' "$sluice_set" >> "$run/$1.conf"
  [ -n "${4:-}" ] && printf '%s\n' "$4" >> "$run/$1.conf"
  [ "$sched" = normal ] || printf 'sluice.event-loop-scheduling = %s\n' "$sched" >> "$run/$1.conf"
  # The smoke run checks correctness, not cost: every buffer tracked, leaks checked at the end.
  [ "$mode" = smoke ] && printf 'sluice.buffer-leak-detection = paranoid\n' >> "$run/$1.conf"
  if [ -n "${SLUICE_CMD:-}" ]; then
    # shellcheck disable=SC2086
    $SLUICE_CMD "$run/$1.conf" > "$run/$1.log" 2>&1 &
  else
    [ -x "$root/bin/sluice" ] || die "bin/sluice not found (use --no-sluice, or SLUICE_CMD)"
    "$root/bin/sluice" run "$run/$1.conf" > "$run/$1.log" 2>&1 &   # execs java: $! is the JVM
  fi
  pid[$1]=$!
  wait_port "$1" "${port[$1]}" 600   # the launcher may build first
  targets+=(--target "$1=127.0.0.1:${port[$1]}@${pid[$1]}")
}
if [ "$with_sluice" = 1 ]; then
  start_sluice sluice sluice.conf "$admin_port"
  if [ "$with_copy" = 1 ]; then
    start_sluice sluice-copy sluice-copy.conf $((admin_port + 1))
  fi
  for i in "${!variants[@]}"; do
    start_sluice "sluice-${variant_names[$i]}" sluice.conf $((admin_port + 10 + i)) "${variants[$i]#*=}"
  done
fi
for p in $peers; do
  case "$p" in
    nginx)
      mkdir -p "$shm_dir/nginx-cache"
      render "$here/peers/nginx.conf" "$run/nginx.conf" "${port[nginx]}"
      "${as_peer[@]}" nginx -p "$run" -c "$run/nginx.conf" -e "$run/nginx-error.log" > "$run/nginx.log" 2>&1 &
      ;;
    haproxy)
      render "$here/peers/haproxy.cfg" "$run/haproxy.cfg" "${port[haproxy]}"
      if [ -n "$haproxy_bufsize" ]; then
        sed -i "s|^    maxconn 4000\$|&\n    tune.bufsize $haproxy_bufsize|" "$run/haproxy.cfg"
        grep -q "^    tune.bufsize $haproxy_bufsize\$" "$run/haproxy.cfg" || die "could not set tune.bufsize in $run/haproxy.cfg"
      fi
      "${as_peer[@]}" haproxy -db -f "$run/haproxy.cfg" > "$run/haproxy.log" 2>&1 &
      ;;
    varnish)
      render "$here/peers/varnish.vcl" "$run/varnish.vcl" "${port[varnish]}"
      "${as_peer[@]}" varnishd -F -j none -n "$run/varnish" -a "127.0.0.1:${port[varnish]}" -f "$run/varnish.vcl" \
          -s malloc,1g -p thread_pools="$workers" > "$run/varnish.log" 2>&1 &
      ;;
    ats)
      # traffic_server alone (no traffic_manager), in the foreground, reading $run/ats through runroot.yaml,
      # logging to $run/ats/log, its cache span a file on tmpfs
      mkdir -p "$run/ats/var" "$run/ats/log" "$shm_dir/ats"
      for f in "$here"/peers/ats/*; do render "$f" "$run/ats/$(basename "$f")" "${port[ats]}"; done
      for f in plugin.config cache.config parent.config volume.config hosting.config ssl_multicert.config; do
        [ -e "$run/ats/$f" ] || : > "$run/ats/$f"
      done
      [ "$ats_stats" = 1 ] && echo "stats_over_http.so" >> "$run/ats/plugin.config"
      "${as_peer[@]}" traffic_server --run-root="$run/ats/runroot.yaml" > "$run/ats.log" 2>&1 &
      ;;
  esac
  pid[$p]=$!
  wait_port "$p" "${port[$p]}" 60
  if [ "$sched" = batch ] && ! chrt -p "${pid[$p]}" | grep -q SCHED_BATCH; then
    die "$p (pid ${pid[$p]}) is not under SCHED_BATCH: $(chrt -p "${pid[$p]}" | head -1)"
  fi
  targets+=(--target "$p=127.0.0.1:${port[$p]}@${pid[$p]}")
done

# ---- what was measured, on what ----
{
  echo "# Peer benchmark ($mode), $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- machine: $(uname -srm), $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM"
  echo "- java: $("$JAVA" -version 2>&1 | head -1)"
  echo "- TCP congestion control: $(cat "$cc_sysctl")$([ -n "${cc_restore:-}" ] && echo " (set by --cc for this run; system default $cc_restore)"), qdisc on lo: $(tc qdisc show dev lo 2>/dev/null | awk '{print $2; exit}')"
  rev="$(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (work tree modified)')"
  if [ "$with_sluice" = 1 ]; then echo "- sluice: $rev (zero-copy = auto: splice via pooled 1 MiB pipes)$([ "$with_copy" = 1 ] && echo "; sluice-copy: the same build with zero-copy = copy"); cache $([ "$sluice_cache" = on ] && echo "on (peers/sluice*.conf: /hit/ route cached, sluice.cache memory 1 GiB)" || echo "off (--sluice-cache off: C, D and F pass through)")$([ -n "$sluice_set" ] && echo "; both with --sluice-set: \`$(echo "$sluice_set" | tr '\n' ' ')\`")"; else echo "- sluice: not run (--no-sluice); tools at $rev"; fi
  for p in $peers; do
    case "$p" in
      nginx) echo "- nginx: $(nginx -v 2>&1 | sed 's/^nginx version: //'), $workers workers, proxy buffers 8x1m, proxy_cache on tmpfs for /hit/" ;;
      haproxy) echo "- haproxy: $(haproxy -v 2>&1 | head -1 | awk '{print $3}'), nbthread $workers, tune.bufsize ${haproxy_bufsize:-default (16384)}, option splice-request/splice-response, cache for /hit/ (objects up to 4 MiB: C64 is pass-through there)" ;;
      varnish) echo "- varnish: $(varnishd -V 2>&1 | head -1 | sed 's/^varnishd (\(.*\))$/\1/'), malloc 1g, $workers thread pools, pass for /pass/" ;;
      ats) echo "- ats: Apache Traffic Server $(traffic_server --version 2>/dev/null | awk '/^Traffic Server/ {print $3; exit}') (records.config), traffic_server alone in the foreground, $workers event threads (exec_thread.limit, accept on them), RAM cache 1 GiB (CLFUS, seen filter off, cutoff 128 MiB) over a 1 GiB span on tmpfs, agg_write_backlog 1 GiB (so that F stores every miss), /pass/ remapped with proxy.config.http.cache.http=0, no access log, no Via$([ "$ats_stats" = 1 ] && echo ", stats_over_http loaded (--ats-stats)")" ;;
    esac
  done
  for i in "${!variants[@]}"; do
    [ "$with_sluice" = 1 ] && echo "- sluice-${variant_names[$i]}: the same build as sluice, plus \`$(echo "${variants[$i]#*=}" | tr '\n' ' ')\`"
  done
  echo "- scheduling policy of every proxy: $sched$([ "$sched" = batch ] && echo " (Sluice: event-loop-scheduling = batch; peers: chrt --batch 0)"); origin and load client: normal"
  echo "- origin: loadtest OriginMain (epoll, 1 thread, memoized bodies); load client: loadtest LoadClient (1 thread) in one JVM"
  echo "- workloads: A1/A8 = 64 MiB pass-through (Cache-Control no-store, /pass/) with 1/8 connections; B = 1 MiB pass-through, 16 conns; C1/C64/C64k = 1 MiB/64 MiB/64 KiB cache hits after warming (/hit/, public, max-age=3600), 16/8/16 conns; D = 1 KiB cache hits, 64 conns; Dp = 1 KiB pass-through; F = 1 MiB cacheable GETs under /hit/ on paths never requested before (a random prefix per run, a counter), 16 conns: every one a miss that stores; E/E64 = chunked pass-through"
  echo "- mode $mode: $reps reps x $duration after $warmup warmup per cell"
  echo
  echo "What each target does per row (the results' 'origin req/req' column measures it: ~0 = served from its cache):"
  echo
  echo "| target | A1, A8, B, Dp, E (/pass/, no-store) | C1, C64k, D (/hit/) | C64 (64 MiB under /hit/) | F (unique keys under /hit/) |"
  echo "|---|---|---|---|---|"
  if [ "$with_sluice" = 1 ]; then
    if [ "$sluice_cache" = on ]; then
      echo "| sluice* | pass-through (splice / copy) | hits from sluice.cache (send = auto unless --sluice-set) | hit (max-object-size 64MiB) | miss, stored in sluice.cache |"
    else
      echo "| sluice* | pass-through (splice / copy) | pass-through (no cache: --sluice-cache off) | pass-through | pass-through |"
    fi
  fi
  for p in $peers; do
    case "$p" in
      nginx) echo "| nginx | proxied, buffered in memory (location /pass/, no proxy_cache) | hits from proxy_cache files on tmpfs, sent with sendfile (on, as in Debian's nginx.conf) | hit | miss, written to a tmpfs file (use_temp_path off) |" ;;
      haproxy) echo "| haproxy | spliced (backend without a cache filter) | hits from its shared-memory cache | pass-through: over max-object-size (4 MiB) | miss, stored in its cache (1 GiB, 1 MiB objects fit) |" ;;
      varnish) echo "| varnish | return (pass) | hits from malloc storage | hit | miss, stored in malloc storage (LRU nuking past 1 GiB) |" ;;
      ats) echo "| ats | conf_remap cache.http=0: no lookup, no store | hits from its RAM cache (TCP_MEM_HIT) | hit from the RAM cache | miss, written to the tmpfs span (and its RAM cache) |" ;;
    esac
  done
} > "$out/machine.md"

echo "bench: running ${workloads} against: ${targets[*]}" >&2
rc=0
"$JAVA" "${JFLAGS[@]}" -cp "$CP" dev.sluice.loadtest.BenchMain --out "$out" --reps "$reps" \
    --duration "$duration" --warmup "$warmup" --settle "$settle" --workloads "$workloads" $verify \
    --origin "127.0.0.1:$origin_port" "${targets[@]}" || rc=$?

# Traffic Server's own account of its cache (--ats-stats): RAM cache hits and misses, cache reads and writes
if [ "$ats_stats" = 1 ] && [[ " $peers " == *" ats "* ]]; then
  sleep 11   # its metrics reach stats_over_http in periodic syncs
  curl -s "http://127.0.0.1:${port[ats]}/_stats" | tr ',' '\n' \
    | grep -E '"proxy\.process\.(cache\.ram_cache\.|cache\.read\.|cache\.write\.|http\.cache_)' \
    | tr -d ' "' > "$out/ats-stats.txt" || echo "bench: could not read Traffic Server's stats" >&2
fi

# After the smoke load: no buffer leaks in either Sluice (leak_check: lib.sh).
if [ "$mode" = smoke ] && [ "$with_sluice" = 1 ]; then
  leak_check sluice "${port[sluice]}" "$admin_port" || rc=1
  if [ "$with_copy" = 1 ]; then leak_check sluice-copy "${port[sluice-copy]}" $((admin_port + 1)) || rc=1; fi
fi

if command -v gnuplot >/dev/null 2>&1 && [ -f "$out/chart.gp" ]; then
  (cd "$out" && gnuplot chart.gp) || echo "bench: gnuplot failed; chart.gp and data are in $out" >&2
fi
cat "$out/summary.md"
echo
echo "bench: results in $out" >&2
[ $rc -eq 0 ] || echo "bench: some runs FAILED (see failures above and runs.csv)" >&2
exit $rc
