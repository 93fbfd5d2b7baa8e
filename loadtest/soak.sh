#!/usr/bin/env bash
# Soak: one Sluice under verified load and a stream of faults for a while, then a check that it gave back what it
# took. Loopback only; stops by itself.
#
#   loadtest/soak.sh [--duration T] [--keep]
#     --duration T   how long the load runs (default 10m; e.g. 90s, 1h)
#     --keep         keep the scratch directory (config, logs, samples)
#
# Load, all at once, every body byte verified by the load client or the origin:
#   - downloads of 0 B to 64 MiB (mixed) on the spliced route and on a `zero-copy = copy` route (/copy/)
#   - uploads (PUT) of 1 B to 16 MiB, checked byte for byte by the origin
#   - downloads through an L4 (`mode = tcp`) listener
#   - a fault loop: origin resets, short bodies, stalls and surplus bytes (loadtest origin faults), clients that
#     leave mid-body (downloads and uploads), and a request that is refused (CL + TE); each must end the way the
#     proxy promises (no complete-looking response for a broken body, 400 for the bad request)
# Every 30 s a line with Sluice's RSS, open fds, pipes, connections and requests. At the end (after the pools'
# idle timeout): no client or upstream connection left, no pipe in use, open fds back to the start plus the pooled
# pipes, no buffer leak (Netty paranoid tracking, after a full GC), still serving. Exit 0 only if all of it held.
# Ports: Sluice SOAK_PORT_BASE (default 18180, L4 listener +1), origin SOAK_ORIGIN_PORT (19100), admin
# SOAK_ADMIN_PORT (19951).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"
tag=soak

duration=10m
keep=0
die() { echo "soak: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) [ $# -ge 2 ] || die "--duration needs a value"; duration="$2"; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
case "$duration" in
  *ms) die "--duration is seconds or longer (e.g. 90s, 10m, 1h)" ;;
  *s) secs=${duration%s} ;;
  *m) secs=$((${duration%m} * 60)) ;;
  *h) secs=$((${duration%h} * 3600)) ;;
  *) die "--duration needs a unit: s, m or h" ;;
esac
[[ "$secs" =~ ^[0-9]+$ ]] && [ "$secs" -ge 10 ] || die "--duration must be at least 10s"

http_port=${SOAK_PORT_BASE:-18180}
l4_port=$((http_port + 1))
origin_port=${SOAK_ORIGIN_PORT:-19100}
admin_port=${SOAK_ADMIN_PORT:-19951}
for p in "$http_port" "$l4_port" "$origin_port" "$admin_port"; do
  port_busy "$p" && die "port $p on 127.0.0.1 is in use (a leftover server? ss -ltnp 'sport = :$p')"
done

JAVA=$(find_jdk) || die "needs a JDK 25 or newer"
command -v curl >/dev/null 2>&1 || {
  echo "soak: installing curl" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq >&2 && apt-get install -y -qq curl >&2
  else sudo apt-get update -qq >&2 && sudo apt-get install -y -qq curl >&2; fi
}

run=$(mktemp -d "${TMPDIR:-/tmp}/sluice-soak.XXXXXX")
declare -A pid=()
loads=()
cleanup() {
  local rc=$?
  stop_started
  if [ "$keep" = 1 ] || [ $rc -ne 0 ]; then echo "soak: scratch directory kept: $run" >&2; else rm -rf "$run"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build_loadtest   # sets CP and JFLAGS

"$JAVA" "${JFLAGS[@]}" -cp "$CP" dev.sluice.loadtest.OriginMain --host 127.0.0.1 --port "$origin_port" \
    --name soak --threads 2 > "$run/origin.log" 2>&1 &
pid[origin]=$!
wait_port origin "$origin_port" 30

cat > "$run/sluice.conf" <<EOF
# Sluice under loadtest/soak.sh
sluice {
  listeners = [
    { name = http, address = "127.0.0.1:$http_port" }
    { name = l4, mode = tcp, address = "127.0.0.1:$l4_port", upstream = origin, idle-timeout = 10s }
  ]
  upstreams { origin { servers = ["127.0.0.1:$origin_port"], pool.idle-timeout = 2s } }
  routes = [
    { name = copy, path-prefix = "/copy/", upstream = origin, zero-copy = copy }
    { name = cached, path-prefix = "/cached/", upstream = origin, cache.enabled = true }
    { name = splice, upstream = origin }
  ]
  # small, so that fills evict bodies that are still being sent, and 64 MiB objects pass through (too large)
  cache.memory = 64MiB
  # short, so that the stall faults end within the run
  timeouts.idle = 3s
  admin.address = "127.0.0.1:$admin_port"
  access-log.enabled = false
  buffer-leak-detection = paranoid
  demo.enabled = false
}
EOF
"$root/bin/sluice" run "$run/sluice.conf" > "$run/sluice.log" 2>&1 &   # execs java: $! is the JVM
pid[sluice]=$!
wait_port sluice "$http_port" 600   # the launcher may build first
wait_port sluice "$admin_port" 30
sp=${pid[sluice]}

metric() { # sum of a metric's samples (all label sets)
  curl -sf "http://127.0.0.1:$admin_port/metrics" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%d", s }'
}
fds() { find "/proc/$sp/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# Open fds once this script's own probes are gone: port checks and metric scrapes are accepted connections
# that Sluice closes a moment after they hang up. The least of five reads 0.2 s apart.
fds_settled() {
  local n least=999999
  for _ in 1 2 3 4 5; do sleep 0.2; n=$(fds); [ "$n" -lt "$least" ] && least=$n; done
  printf '%d' "$least"
}
rss_mib() { awk '/^VmRSS/ {printf "%d", $2 / 1024}' "/proc/$sp/status"; }
sample() {
  printf 'soak: t=%ss rss=%sMiB fds=%s pipes_open=%s pipes_in_use=%s client_conns=%s upstream_conns=%s requests=%s\n' \
      "$1" "$(rss_mib)" "$(fds)" "$(metric sluice_splice_pipes_open)" "$(metric sluice_splice_pipes_in_use)" \
      "$(metric sluice_client_connections)" "$(metric sluice_upstream_connections)" "$(metric sluice_requests_total)"
}

pipes_start=$(metric sluice_splice_pipes_open)
fds_start=$(fds_settled)
echo "soak: Sluice pid $sp, $fds_start fds at start; load for ${secs}s" >&2
sample 0 >&2

# ---- load: verified clients, all at once ----
client() { # name args...
  local name=$1; shift
  "$JAVA" "${JFLAGS[@]}" -cp "$CP" dev.sluice.loadtest.LoadClientMain --timeout 20s -d "${secs}s" --label "$name" \
      "$@" > "$run/$name.out" 2>&1 &
  pid[$name]=$!
  loads+=("$name")
}
mix=0:1,1:1,4095:2,64k:4,1048577:4,4m:2,64m:1
client get-splice --target "127.0.0.1:$http_port" -c 8 --sizes "$mix" --prefix /soak
client get-copy --target "127.0.0.1:$http_port" -c 4 --sizes "$mix" --prefix /copy
# cached, fresh for 2 s: hits, refetches of stale entries with the other connections collapsed onto them, evictions
client get-cached --target "127.0.0.1:$http_port" -c 6 --sizes "$mix" --prefix /cached --query 'cc=max-age%3D2'
client put --target "127.0.0.1:$http_port" -c 3 --put --sizes 1:1,65536:2,1048577:2,16m:1 --prefix /up
client l4 --target "127.0.0.1:$l4_port" -c 2 --sizes 4095:1,1048577:2,16m:1 --prefix /l4

# ---- faults: each must end as promised ----
base="http://127.0.0.1:$http_port"
faults_ok=0
faults_bad=0
bad() { faults_bad=$((faults_bad + 1)); echo "soak: FAULT CHECK FAILED: $*" >> "$run/faults.log"; }
# A broken body must never look complete: curl must fail (18 partial, 52 empty, 56 reset), not exit 0.
broken() { # path
  local rc=0
  curl -s -o /dev/null --max-time 20 "$base$1" || rc=$?
  if [ $rc -eq 0 ]; then bad "$1: curl got a complete response"; else faults_ok=$((faults_ok + 1)); fi
}
fault_round() {
  local n=$1 rc out
  broken "/f/reset-$n?size=4m&fault=reset@300000"
  broken "/copy/f/reset-$n?size=4m&fault=reset@300000"
  broken "/f/short-$n?size=4m&fault=short@1000000"
  broken "/f/close-$n?size=1m&fault=close"
  # a cacheable body that breaks mid-fill: cut off, and never served from the cache afterwards
  broken "/cached/f/reset-$((n % 3))?size=4m&cc=max-age%3D60&fault=reset@300000"
  broken "/cached/f/short-$((n % 3))?size=2m&cc=max-age%3D60&fault=short@1000000"
  if [ $((n % 5)) -eq 0 ]; then broken "/f/stall-$n?size=4m&fault=stall@500000"; fi   # ends by the 3 s idle timeout
  # surplus: this response is whole; the connection it came on must not be reused
  out=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' --max-time 20 "$base/f/surplus-$n?size=1k&fault=surplus") || true
  if [ "$out" = "200 1024" ]; then faults_ok=$((faults_ok + 1)); else bad "surplus: got '$out'"; fi
  # a client that leaves mid-body (download, then upload)
  rc=0; curl -s -o /dev/null --max-time 0.5 --limit-rate 8M "$base/f/leave-$n?size=64m" || rc=$?
  if [ $rc -eq 28 ]; then faults_ok=$((faults_ok + 1)); else bad "client leaving: curl exit $rc, not 28 (timeout)"; fi
  (exec 3<>"/dev/tcp/127.0.0.1/$http_port" && printf 'PUT /up/leave-%s?size=8m HTTP/1.1\r\nHost: soak\r\nContent-Length: 8388608\r\n\r\n' "$n" >&3 \
      && head -c 1048576 /dev/zero >&3) 2>/dev/null || true
  faults_ok=$((faults_ok + 1))
  # request smuggling shape: Content-Length with Transfer-Encoding -> 400 and close
  out=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$http_port; printf 'POST /f/bad-$n HTTP/1.1\r\nHost: soak\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' >&3; head -c 12 <&3" 2>/dev/null) || true
  if [ "$out" = "HTTP/1.1 400" ]; then faults_ok=$((faults_ok + 1)); else bad "CL+TE request: got '$out', not HTTP/1.1 400"; fi
}

start=$(date +%s)
next_sample=$((start + 30))
round=0
rss_quarter=""
while [ $(($(date +%s) - start)) -lt "$secs" ]; do
  round=$((round + 1))
  fault_round "$round"
  now=$(date +%s)
  if [ "$now" -ge "$next_sample" ]; then
    sample $((now - start)) >&2
    next_sample=$((next_sample + 30))
  fi
  if [ -z "$rss_quarter" ] && [ $((now - start)) -ge $((secs / 4)) ]; then rss_quarter=$(rss_mib); fi
  kill -0 "$sp" 2>/dev/null || { echo "soak: Sluice died; its log:" >&2; tail -40 "$run/sluice.log" >&2; exit 1; }
done

# ---- the verdict ----
rc=0
for name in "${loads[@]}"; do
  if wait "${pid[$name]}"; then
    echo "soak: $name: $(head -1 "$run/$name.out")" >&2
  else
    echo "soak: $name FAILED: $(head -1 "$run/$name.out")" >&2
    grep -m 10 'failure' "$run/$name.out" >&2 || true
    rc=1
  fi
  unset "pid[$name]"
done
echo "soak: $round fault rounds, $faults_ok faults ended as promised, $faults_bad did not" >&2
if [ "$faults_bad" -gt 0 ]; then head -20 "$run/faults.log" >&2; rc=1; fi

# Everything idle: the pools' idle timeout (2 s) and the watchdog's period, then what Sluice still holds.
settled=0
for _ in $(seq 30); do
  sleep 1
  if [ "$(metric sluice_client_connections)" = 0 ] && [ "$(metric sluice_upstream_connections)" = 0 ] \
      && [ "$(metric sluice_splice_pipes_in_use)" = 0 ]; then settled=1; break; fi
done
sample "$(( $(date +%s) - start ))" >&2
if [ "$settled" != 1 ]; then
  echo "soak: connections or pipes still held 30 s after the load (see the last line)" >&2
  rc=1
fi
pipes_end=$(metric sluice_splice_pipes_open)
fds_end=$(fds_settled)
fds_expected=$((fds_start + 2 * (pipes_end - pipes_start)))
if [ "$fds_end" -ne "$fds_expected" ]; then
  echo "soak: $fds_end fds open, expected $fds_expected ($fds_start at start + 2 per pooled pipe, $pipes_end pooled)" >&2
  ls -l "/proc/$sp/fd" > "$run/fds-end.txt" 2>/dev/null || true
  rc=1
else
  echo "soak: fds back to the start ($fds_start) plus $((pipes_end - pipes_start)) pooled pipes" >&2
fi
rss_end=$(rss_mib)
if [ -n "$rss_quarter" ] && [ "$rss_end" -gt $((rss_quarter + rss_quarter / 5 + 64)) ]; then
  echo "soak: RSS grew from ${rss_quarter} MiB (a quarter in) to ${rss_end} MiB" >&2
  rc=1
else
  echo "soak: RSS ${rss_quarter:-?} MiB a quarter in, ${rss_end} MiB at the end" >&2
fi
leak_check sluice "$http_port" "$admin_port" || rc=1
# Still serving, byte for byte.
if "$JAVA" "${JFLAGS[@]}" -cp "$CP" dev.sluice.loadtest.LoadClientMain --target "127.0.0.1:$http_port" \
    -n 20 -c 2 --sizes 1k:1,1048577:1 --prefix /after > "$run/after.out" 2>&1; then
  echo "soak: still serving: $(head -1 "$run/after.out")" >&2
else
  echo "soak: FAILED after the soak: $(head -1 "$run/after.out")" >&2
  rc=1
fi
[ $rc -eq 0 ] && echo "soak: passed" >&2 || echo "soak: FAILED" >&2
exit $rc
