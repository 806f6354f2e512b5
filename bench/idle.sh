#!/usr/bin/env bash
# Idle sidecar: 100 integrations against the simulated provider API (50 ms latency, loopback).
#
#   bash bench/idle.sh
#
# Prints the release binary size; start to ready (spawn to the first 200 from /-/ready, median of
# 15 starts, each start also begins probing its 100 integrations); resident memory right after
# the first probe cycle and after 10 s idle (median of RUNS starts); first-cycle time. Takes about
# a minute after the build. The config keeps the exporter's default max_concurrency (32), as a
# sidecar would. Environment: N (integrations, 100), RUNS (5), CONC (32), PORT (19115).
source "$(dirname "$0")/lib.sh"
N=${N:-100}
RUNS=${RUNS:-5}
PORT=${PORT:-19115}
CONC=${CONC:-32}

build
machine
start "$TOOL" sim --delay-ms 50 --url-file "$WORK/sim.url" --max-seconds 900
wait_file "$WORK/sim.url" 10
API=$(cat "$WORK/sim.url")
"$TOOL" fleet-config --n "$N" --api "$API" --max-concurrency "$CONC" --out "$WORK/idle.yml"
run_exporter=("$EXPORTER" --config.file "$WORK/idle.yml" --web.listen-address "127.0.0.1:$PORT" --log.level warn)

size=$(stat -c %s "$EXPORTER")
log "start to ready, 15 starts..."
ready=$("$TOOL" ready --url "http://127.0.0.1:$PORT/-/ready" --runs 15 --max-seconds 10 -- "${run_exporter[@]}")

: >"$WORK/idle.txt"
for r in $(seq "$RUNS"); do
  log "run $r/$RUNS: first cycle, then 10 s idle..."
  curl -sf -o /dev/null "$API/__bench/reset"
  start "${run_exporter[@]}"
  pid=$LAST_PID
  line=$("$TOOL" cycles --sim "$API" --n "$N" --cycles 1 --pid "$pid" --delay-ms 50 --max-seconds 60)
  sleep 10
  echo "$(field "$line" rss_kb) $(rss_kb "$pid") $(field "$line" complete_s)" >>"$WORK/idle.txt"
  stop "$pid"
done

rss_cycle=$(awk '{print $1}' "$WORK/idle.txt" | median)
rss_idle=$(awk '{print $2}' "$WORK/idle.txt" | median)
cycle=$(awk '{print $3}' "$WORK/idle.txt" | median)
echo
echo "## idle sidecar: $N integrations, simulated latency 50 ms, max_concurrency $CONC (MB = MiB)"
echo
echo "| figure | median | runs | target |"
echo "|---|---|---|---|"
printf '| release binary size | %s MB (%d bytes) | 1 | <= 10 MB |\n' "$(calc "$size/1048576")" "$size"
printf '| start to ready | %s ms (min %s, max %s) | %s | <= 100 ms |\n' "$(field "$ready" ready_ms_median)" \
  "$(field "$ready" ready_ms_min)" "$(field "$ready" ready_ms_max)" "$(field "$ready" runs)"
printf '| RSS after first cycle | %s MB | %s | <= 12 MB |\n' "$(calc "$rss_cycle/1024" 1)" "$RUNS"
printf '| RSS after 10 s idle | %s MB | %s | |\n' "$(calc "$rss_idle/1024" 1)" "$RUNS"
printf '| first cycle (%s probes, bound %s ms) | %s s | %s | |\n' "$N" "$(( (N + CONC - 1) / CONC * 50 ))" "$cycle" "$RUNS"
echo
echo "per run (rss_after_cycle_kb rss_idle_kb cycle_s):"
sed 's/^/    /' "$WORK/idle.txt"
