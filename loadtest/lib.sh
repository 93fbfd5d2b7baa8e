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
