#!/usr/bin/env bash
# Fleet: 1,000 / 3,000 / 10,000 integrations against the simulated provider API (50 ms latency,
# max_concurrency 256, loopback).
#
#   bash bench/fleet.sh
#
# Per size, median of RUNS: config load and validation (`--config.check`, whole process); first
# probe cycle time against its bound ceil(N/256) x 50 ms; resident memory after the first cycle
# and after the scrapes; `/metrics` scrape time over keep-alive (median of 15 scrapes, per series).
# Then the growth fitted over the sizes, and memory over repeated cycles at the largest size
# (interval 1s, FLAT_DELAY ms simulated latency, CYCLES cycles), with the default
# --history.limit 100 and with SHORT_HISTORY. Takes about 7 minutes after the build.
# Environment: SIZES ("1000 3000 10000"), RUNS (3), CYCLES (100), SHORT_HISTORY (3),
# FLAT_DELAY (10), PORT (19115).
source "$(dirname "$0")/lib.sh"
SIZES=${SIZES:-"1000 3000 10000"}
RUNS=${RUNS:-3}
CYCLES=${CYCLES:-100}
FLAT_DELAY=${FLAT_DELAY:-10}
SHORT_HISTORY=${SHORT_HISTORY:-3}
PORT=${PORT:-19115}
CONC=256
DELAY=50

build
machine
start "$TOOL" sim --delay-ms "$DELAY" --url-file "$WORK/sim.url" --max-seconds 900
wait_file "$WORK/sim.url" 10
API=$(cat "$WORK/sim.url")

: >"$WORK/sizes.txt"
for n in $SIZES; do
  "$TOOL" fleet-config --n "$n" --api "$API" --max-concurrency "$CONC" --out "$WORK/fleet-$n.yml"
  : >"$WORK/load-$n.txt"
  for _ in $(seq 5); do
    t0=$(date +%s%N)
    "$EXPORTER" --config.check --config.file "$WORK/fleet-$n.yml" >/dev/null
    echo $(( ($(date +%s%N) - t0) / 1000 )) >>"$WORK/load-$n.txt"
  done
  load_ms=$(median <"$WORK/load-$n.txt" | awk '{printf "%.1f", $1 / 1000}')
  : >"$WORK/runs-$n.txt"
  for r in $(seq "$RUNS"); do
    log "N=$n run $r/$RUNS..."
    curl -sf -o /dev/null "$API/__bench/reset"
    start "$EXPORTER" --config.file "$WORK/fleet-$n.yml" --web.listen-address "127.0.0.1:$PORT" --log.level warn
    pid=$LAST_PID
    cyc=$("$TOOL" cycles --sim "$API" --n "$n" --cycles 1 --pid "$pid" --delay-ms "$DELAY" --max-seconds 120)
    wait_http "http://127.0.0.1:$PORT/-/ready" 10
    scr=$("$TOOL" scrape --url "http://127.0.0.1:$PORT/metrics" --runs 15)
    om=$("$TOOL" scrape --url "http://127.0.0.1:$PORT/metrics" --runs 15 --openmetrics)
    if [ "$(field "$scr" integrations)" != "$n" ] || [ "$(field "$scr" unknown)" != 0 ]; then
      log "N=$n: /metrics shows $(field "$scr" integrations) integrations, $(field "$scr" unknown) unknown"
      exit 1
    fi
    echo "$(field "$cyc" complete_s) $(field "$cyc" rss_kb) $(rss_kb "$pid") $(field "$scr" scrape_ms_median)" \
      "$(field "$scr" us_per_series) $(field "$scr" series) $(field "$om" scrape_ms_median)" >>"$WORK/runs-$n.txt"
    stop "$pid"
  done
  col() { awk -v c="$1" '{print $c}' "$WORK/runs-$n.txt" | median; }
  echo "$n $load_ms $(col 1) $(col 2) $(col 3) $(col 4) $(col 5) $(col 6) $(col 7)" >>"$WORK/sizes.txt"
done

echo
echo "## fleet: simulated latency ${DELAY} ms, max_concurrency ${CONC}, medians of ${RUNS} runs"
echo
echo "| integrations | config load | first cycle | bound | cycle/bound | RSS after cycle | RSS after scrapes | scrape (0.0.4) | per series | series | scrape (OpenMetrics) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
while read -r n load cyc rss1 rss2 scr us series om; do
  bound=$(calc "($n + $CONC - 1 - ($n + $CONC - 1) % $CONC) / $CONC * $DELAY / 1000" 3)
  printf '| %s | %s ms | %s s | %s s | %s | %s MB | %s MB | %s ms | %s µs | %s | %s ms |\n' "$n" "$load" "$cyc" "$bound" \
    "$(calc "$cyc / $bound")" "$(calc "$rss1/1024" 1)" "$(calc "$rss2/1024" 1)" "$scr" "$us" "$series" "$om"
done <"$WORK/sizes.txt"
echo
echo "targets at 10,000: config <= 1000 ms; first cycle <= 1.3 x bound; RSS <= 80 MB; scrape <= 100 ms and <= 1 µs/series"
echo
echo "growth over the sizes: linear fit y = a + b*N (b: cost per integration) and power fit y ~ N^k"
echo
echo "| figure | a | b per integration | k |"
echo "|---|---|---|---|"
for spec in "config load (ms):2" "first cycle (s):3" "RSS after cycle (kB):4" "scrape (ms):6"; do
  name=${spec%%:*}
  c=${spec##*:}
  read -r a b k < <(awk -v c="$c" '{print $1, $c}' "$WORK/sizes.txt" | fit)
  echo "| $name | $a | $b | $k |"
done

largest=$(tr ' ' '\n' <<<"$SIZES" | sort -n | tail -1)
# Memory over repeated cycles: a faster simulated API (FLAT_DELAY ms) and a 1 s interval, so
# that CYCLES cycles take about CYCLES seconds. With the default --history.limit 100 the whole
# history is reserved on an integration's first result; a short limit shows whether anything
# else grows.
start "$TOOL" sim --delay-ms "$FLAT_DELAY" --url-file "$WORK/flat-sim.url" --max-seconds 900
wait_file "$WORK/flat-sim.url" 10
FLAT_API=$(cat "$WORK/flat-sim.url")
"$TOOL" fleet-config --n "$largest" --api "$FLAT_API" --max-concurrency "$CONC" --interval 1s --out "$WORK/flat.yml"
for limit in 100 "$SHORT_HISTORY"; do
  log "memory over $CYCLES cycles at N=$largest (interval 1s, --history.limit $limit)..."
  curl -sf -o /dev/null "$FLAT_API/__bench/reset"
  start "$EXPORTER" --config.file "$WORK/flat.yml" --web.listen-address "127.0.0.1:$PORT" --log.level warn \
    --history.limit "$limit"
  pid=$LAST_PID
  "$TOOL" cycles --sim "$FLAT_API" --n "$largest" --cycles "$CYCLES" --pid "$pid" --delay-ms "$FLAT_DELAY" \
    --max-seconds $((CYCLES * 3 + 30)) >"$WORK/flat-$limit.txt"
  stop "$pid"
done
echo
echo "## memory over repeated cycles: $largest integrations, interval 1s (±10% jitter), simulated latency ${FLAT_DELAY} ms"
echo
echo "| cycle | probes so far | RSS, --history.limit 100 | RSS, --history.limit $SHORT_HISTORY |"
echo "|---|---|---|---|"
paste -d'|' "$WORK/flat-100.txt" "$WORK/flat-$SHORT_HISTORY.txt" | while IFS='|' read -r a b; do
  k=$(field "$a" cycle)
  # Every cycle up to 5, then every tenth and the last.
  [ "$k" -le 5 ] || [ $((k % 10)) = 0 ] || [ "$k" = "$CYCLES" ] || continue
  printf '| %s | %s | %s MB | %s MB |\n' "$k" "$(field "$a" requests)" \
    "$(calc "$(field "$a" rss_kb)/1024" 1)" "$(calc "$(field "$b" rss_kb)/1024" 1)"
done
