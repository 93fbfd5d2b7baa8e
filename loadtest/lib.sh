# Shell helpers shared by bench.sh and soak.sh (sourced, not run).

# The major Java version of the java binary $1 (empty if it does not run).
java_major() {
  local v
  v=$("$1" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; exit}') || true
  printf '%s' "${v%%.*}"
}

# Prints a java binary of JDK 25 or newer: JAVA_HOME, PATH, then the usual install folders.
find_jdk() {
  local c candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null 2>&1 && candidates+=("$(command -v java)")
  for c in /usr/lib/jvm/*/bin/java "$HOME"/.sdkman/candidates/java/*/bin/java "$HOME"/.jdks/*/bin/java /opt/*/bin/java; do
    [ -x "$c" ] && candidates+=("$c")
  done
  for c in "${candidates[@]}"; do
    local m; m=$(java_major "$c")
    if [ -n "$m" ] && [ "$m" -ge 25 ] 2>/dev/null; then printf '%s' "$c"; return 0; fi
  done
  return 1
}

# True when something listens on 127.0.0.1:$1.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The functions below use the sourcing script's globals: tag (its name, for messages), run (its scratch
# directory; a started process NAME logs to $run/NAME.log), pid (associative array: NAME -> PID of every process
# it started), root (the repository), JAVA.

# Stops everything in pid: TERM, then KILL what is still there after 5 s.
stop_started() {
  local name
  for name in "${!pid[@]}"; do
    kill -TERM "${pid[$name]}" 2>/dev/null || true
  done
  for name in "${!pid[@]}"; do
    for _ in $(seq 50); do kill -0 "${pid[$name]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${pid[$name]}" 2>/dev/null || true
  done
}

# wait_port NAME PORT SECONDS: until NAME listens on PORT; exits with its log if it died or did not.
wait_port() {
  local i
  for i in $(seq $(($3 * 10))); do
    if port_busy "$2"; then return 0; fi
    if ! kill -0 "${pid[$1]}" 2>/dev/null; then
      echo "$tag: $1 exited; its log:" >&2; tail -30 "$run/$1.log" >&2 || true; exit 1
    fi
    sleep 0.1
  done
  echo "$tag: $1 not listening on $2 after $3 s; its log:" >&2; tail -30 "$run/$1.log" >&2 || true
  exit 1
}

# Builds the loadtest module; sets CP (its classpath) and JFLAGS (the JVM options of origin and clients).
build_loadtest() {
  echo "$tag: building the loadtest module" >&2
  (cd "$root" && mvn -B -q -pl loadtest -DskipTests package dependency:build-classpath \
      -Dmdep.outputFile="$run/cp.txt" -Dmdep.includeScope=runtime) >&2
  CP="$root/loadtest/target/classes:$(cat "$run/cp.txt")"
  JFLAGS=(--enable-native-access=ALL-UNNAMED -XX:+UseParallelGC -Xms256m -Xmx1g)
}

# leak_check NAME HTTP-PORT ADMIN-PORT: for a Sluice run with buffer-leak-detection = paranoid. A full GC, then a
# few requests (Netty reports collected unreleased buffers when it tracks the next one), then its own count of
# leak reports must still be 0; else the first reports from its log, and status 1.
leak_check() {
  "$(dirname "$JAVA")/jcmd" "${pid[$1]}" GC.run > /dev/null || { echo "$tag: jcmd GC.run failed on $1" >&2; return 1; }
  sleep 0.5
  for _ in 1 2 3; do
    curl -sf -o /dev/null "http://127.0.0.1:$2/pass/leak-check?size=70000&cc=no-store" || true
    sleep 0.2
  done
  local leaks
  leaks=$(curl -sf "http://127.0.0.1:$3/metrics" \
      | awk '$1 ~ /^sluice_buffer_leaks_total/ { s += $2; n++ } END { if (n) printf "%d", s }')
  if [ "$leaks" = 0 ]; then
    echo "$tag: $1: no buffer leaks (paranoid tracking, after a full GC)" >&2
    return 0
  fi
  echo "$tag: $1: sluice_buffer_leaks_total = ${leaks:-missing}; the first reports:" >&2
  grep -A12 'LEAK' "$run/$1.log" | head -80 >&2
  return 1
}

# cc_set ALG: sets net.ipv4.tcp_congestion_control to ALG for the run (root; loads tcp_ALG if needed). Sets the
# globals cc_sysctl and cc_restore (the system's setting, empty when nothing changed): the sourcing script's exit
# trap calls cc_restore_now. Returns 1 with a message on stderr when ALG is unavailable or cannot be set.
cc_sysctl=/proc/sys/net/ipv4/tcp_congestion_control
cc_restore=""
cc_set() {
  local before; before=$(cat "$cc_sysctl")
  [ -n "$1" ] && [ "$1" != "$before" ] || return 0
  grep -qw -- "$1" /proc/sys/net/ipv4/tcp_available_congestion_control || modprobe "tcp_$1" 2>/dev/null || true
  grep -qw -- "$1" /proc/sys/net/ipv4/tcp_available_congestion_control \
    || { echo "$tag: --cc $1: not available (have: $(cat /proc/sys/net/ipv4/tcp_available_congestion_control))" >&2; return 1; }
  echo "$1" > "$cc_sysctl" 2>/dev/null || { echo "$tag: --cc $1: cannot write $cc_sysctl (root needed)" >&2; return 1; }
  cc_restore=$before
}
cc_restore_now() {
  if [ -n "$cc_restore" ]; then
    echo "$cc_restore" > "$cc_sysctl" || echo "$tag: could not restore tcp_congestion_control=$cc_restore" >&2
    cc_restore=""
  fi
}
