# Shared by bench/*.sh: build, a scratch directory, process bookkeeping and cleanup, /proc readers,
# medians and fits. Every process a script starts is recorded and killed on exit; everything
# listens on 127.0.0.1 only.
# shellcheck shell=bash

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ie-bench.XXXXXX")
# FAT_LTO=1 builds with fat LTO and one codegen unit (through Cargo's environment overrides,
# into target/fat-lto) to show what the release profile would give with them.
TARGET_DIR=$ROOT/target
if [ "${FAT_LTO:-0}" = 1 ]; then
  export CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
  TARGET_DIR=$ROOT/target/fat-lto
fi
EXPORTER=$TARGET_DIR/release/integration_exporter
TOOL=$TARGET_DIR/release/examples/bench_tool
STARTED_PIDS=()
LAST_PID=

cleanup() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }

# Builds the release binary and the benchmark helper, in two steps: built together, the helper's
# dev-dependencies would add their features to the binary (reqwest's aws-lc-rs, 2.7 MB more)
# and the figures would not be those of the binary `cargo build --release` ships.
build() {
  log "building (release)..."
  (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --quiet --bin integration_exporter &&
    CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --quiet --example bench_tool)
}

# Starts a command in the background, records its pid in LAST_PID and for cleanup.
start() {
  "$@" >>"$WORK/processes.log" 2>&1 &
  LAST_PID=$!
  STARTED_PIDS+=("$LAST_PID")
}

# Stops one process this script started.
stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Waits (at most $2 seconds) until file $1 exists and is not empty.
wait_file() {
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    [ -s "$1" ] && return 0
    sleep 0.05
  done
  log "timed out waiting for $1"
  return 1
}

# Waits (at most $2 seconds) until URL $1 answers 200.
wait_http() {
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    curl -sf -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.05
  done
  log "timed out waiting for $1"
  return 1
}

# Resident memory of a process, kB.
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# User + system CPU time of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

# Reads key=value from a line of bench_tool output: field "key=1 other=2" key -> 1
field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k {print $2}'; }

# Median of the numbers on stdin.
median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# Least-squares fits of "x y" pairs on stdin: linear y = a + b x and power y = c x^k.
# Prints "a b k".
fit() {
  awk '{n++; x=$1; y=$2; sx+=x; sy+=y; sxx+=x*x; sxy+=x*y;
        if (x > 0 && y > 0) {m++; lx=log(x); ly=log(y); slx+=lx; sly+=ly; slxx+=lx*lx; slxy+=lx*ly}}
       END {b=(n*sxy-sx*sy)/(n*sxx-sx*sx); a=(sy-b*sx)/n;
            k=(m>1)?(m*slxy-slx*sly)/(m*slxx-slx*slx):0; printf "%.6g %.6g %.3f\n", a, b, k}'
}

# Machine description for the report.
machine() {
  printf 'machine: %s, %s cores (%s), %s MB RAM, kernel %s\n' \
    "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" "$(nproc)" \
    "shared, not isolated" "$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)" "$(uname -r)"
  printf 'load average at start: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf 'commit: %s; release profile: %s\n' "$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "$([ "${FAT_LTO:-0}" = 1 ] && echo "fat LTO, 1 codegen unit (FAT_LTO=1)" || echo "as in Cargo.toml")"
}

# Evaluates an arithmetic expression with awk: calc "1/3" [decimals]
calc() { awk "BEGIN {printf \"%.${2:-2}f\", $1}"; }
