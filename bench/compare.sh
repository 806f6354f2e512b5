#!/usr/bin/env bash
# Side by side with blackbox_exporter: both probe the same local HTTPS target (a Rust server with a
# freshly generated CA, bench_tool https-target) with the same credential check — one GET with
# `Authorization: Bearer ...`, success on HTTP 200 — one upstream request per probe, loopback only.
#
#   bash bench/compare.sh
#
# Installs the Debian package prometheus-blackbox-exporter when it is missing (needs root and the
# Debian archive). For each of REPS repetitions, alternating the order:
#  - latency at concurrency 1 (LAT_REQ requests): direct request to the target over a kept-alive
#    connection, exporter /probe, blackbox /probe; added latency = median(/probe) - median(direct);
#  - /probe rate at concurrency CONC (RATE_REQ requests), distinct targets (TARGETS integrations,
#    min_probe_interval 0s, so neither the cache nor single-flight helps);
#  - CPU time per probe of each exporter process over both runs, from /proc/PID/stat.
# Also blackbox's connect and TLS phases (it makes a fresh connection per probe) and both idle RSS.
# Takes about 3 minutes after the build. Environment: REPS (3), CONC (8), TARGETS (1000),
# LAT_REQ (400), RATE_REQ (4000), PORT (19115), BB_PORT (19116).
source "$(dirname "$0")/lib.sh"
REPS=${REPS:-3}
CONC=${CONC:-8}
TARGETS=${TARGETS:-1000}
LAT_REQ=${LAT_REQ:-400}
RATE_REQ=${RATE_REQ:-4000}
PORT=${PORT:-19115}
BB_PORT=${BB_PORT:-19116}
TOKEN=bench-token-0123456789

BLACKBOX=$(command -v prometheus-blackbox-exporter || command -v blackbox_exporter || true)
if [ -z "$BLACKBOX" ]; then
  log "installing prometheus-blackbox-exporter (Debian package)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus-blackbox-exporter >/dev/null
  BLACKBOX=$(command -v prometheus-blackbox-exporter)
fi
build
machine
printf 'blackbox_exporter: %s\n' "$("$BLACKBOX" --version 2>&1 | head -1)"

start "$TOOL" https-target --dir "$WORK/target" --max-seconds 900
wait_file "$WORK/target/url" 20
TARGET=$(cat "$WORK/target/url")
CA=$WORK/target/ca.pem

"$TOOL" https-config --n "$TARGETS" --target "$TARGET" --ca-file "$CA" --out "$WORK/exporter.yml"
cat >"$WORK/blackbox.yml" <<YAML
modules:
  bearer_check:
    prober: http
    timeout: 5s
    http:
      method: GET
      valid_status_codes: [200]
      preferred_ip_protocol: ip4
      headers:
        Authorization: Bearer $TOKEN
      tls_config:
        ca_file: $CA
YAML

start "$EXPORTER" --config.file "$WORK/exporter.yml" --web.listen-address "127.0.0.1:$PORT" --log.level warn
EXP_PID=$LAST_PID
start "$BLACKBOX" --config.file "$WORK/blackbox.yml" --web.listen-address "127.0.0.1:$BB_PORT" --log.level warn
BB_PID=$LAST_PID
wait_http "http://127.0.0.1:$PORT/-/ready" 20
wait_http "http://127.0.0.1:$BB_PORT/-/ready" 20
bb_idle_rss=$(rss_kb "$BB_PID")
# The exporter probes every integration once at start: wait for that cycle to end before measuring.
for _ in $(seq 200); do
  s=$("$TOOL" scrape --url "http://127.0.0.1:$PORT/metrics" --runs 1)
  [ "$(field "$s" unknown)" = 0 ] && break
  sleep 0.1
done
exp_rss_start=$(rss_kb "$EXP_PID")

EXP_URL="http://127.0.0.1:$PORT/probe?target=bench-{i}"
BB_URL="http://127.0.0.1:$BB_PORT/probe?module=bearer_check&target=$TARGET/check/{i}"
EXP_OK='status="healthy"} 1'
BB_OK='probe_success 1'

upstream() { curl -sf --cacert "$CA" "$TARGET/__bench/count"; }

# Runs the load tool against one side and records
# "rate p50_ms cpu_ms_per_probe errors requests upstream_requests_per_probe" in $WORK/$1-$2.txt
measure() {
  local side=$1 kind=$2 conc=$3 n=$4 pid=$5 url=$6 expect=$7 before after line up0 up1 req
  up0=$(upstream)
  before=$(cpu_ticks "$pid")
  line=$("$TOOL" load --template "$url" --targets "$TARGETS" --concurrency "$conc" --requests "$n" --max-seconds 120 \
    --expect "$expect")
  after=$(cpu_ticks "$pid")
  up1=$(upstream)
  req=$(field "$line" requests)
  echo "$(field "$line" rate) $(field "$line" p50_ms) $(calc "($after - $before) * 1000 / $CLK_TCK / $req" 4)" \
    "$(field "$line" errors) $req $(calc "($up1 - $up0) / $req" 3)" >>"$WORK/$side-$kind.txt"
}

direct() {
  "$TOOL" load --template "$TARGET/check/{i}" --targets "$TARGETS" --concurrency 1 --requests "$LAT_REQ" \
    --max-seconds 60 --ca-file "$CA" --header "Authorization: Bearer $TOKEN" --expect '"ok":true' |
    while read -r line; do echo "$(field "$line" p50_ms) $(field "$line" errors)"; done >>"$WORK/direct.txt"
}

for r in $(seq "$REPS"); do
  log "repetition $r/$REPS..."
  direct
  if (( r % 2 )); then order="exp bb"; else order="bb exp"; fi
  for side in $order; do
    if [ "$side" = exp ]; then pid=$EXP_PID url=$EXP_URL ok=$EXP_OK; else pid=$BB_PID url=$BB_URL ok=$BB_OK; fi
    measure "$side" lat 1 "$LAT_REQ" "$pid" "$url" "$ok"
    measure "$side" rate "$CONC" "$RATE_REQ" "$pid" "$url" "$ok"
  done
  direct
done

# blackbox's own phase timings: it makes a new connection and TLS session for every probe.
: >"$WORK/phases.txt"
for i in $(seq 30); do
  curl -sf "http://127.0.0.1:$BB_PORT/probe?module=bearer_check&target=$TARGET/check/$i" |
    awk '/^probe_http_duration_seconds\{phase="connect"\}/ {c=$2} /^probe_http_duration_seconds\{phase="tls"\}/ {t=$2}
         /^probe_http_duration_seconds\{phase="processing"\}/ {p=$2} END {print c*1000, t*1000, p*1000}' >>"$WORK/phases.txt"
done
exp_rss_end=$(rss_kb "$EXP_PID")
ondemand=$(curl -sf "http://127.0.0.1:$PORT/metrics" | awk '/^integration_exporter_ondemand_probes_total/ {printf "%s ", $0}')
bb_rss_end=$(rss_kb "$BB_PID")

med() { awk -v c="$2" '{print $c}' "$WORK/$1.txt" | median; }
errors=$(cat "$WORK"/*-lat.txt "$WORK"/*-rate.txt | awk '{s += $4} END {print s + 0}')
direct_p50=$(med direct 1)
exp_lat=$(med exp-lat 2)
bb_lat=$(med bb-lat 2)
exp_cpu=$(cat "$WORK/exp-lat.txt" "$WORK/exp-rate.txt" | awk '{print $3}' | median)
bb_cpu=$(cat "$WORK/bb-lat.txt" "$WORK/bb-rate.txt" | awk '{print $3}' | median)
exp_rate=$(med exp-rate 1)
bb_rate=$(med bb-rate 1)

echo
echo "## side by side with blackbox_exporter: same HTTPS target, same check, one request per probe"
echo
echo "medians of $REPS repetitions; latency at concurrency 1 ($LAT_REQ probes each), rate at concurrency $CONC"
echo "($RATE_REQ probes each) over $TARGETS distinct targets; failed probes in all runs: $errors"
echo
echo "| figure | integration_exporter | blackbox_exporter | ratio | target |"
echo "|---|---|---|---|---|"
printf '| CPU time per probe | %s ms | %s ms | %s | <= 0.5 |\n' "$exp_cpu" "$bb_cpu" "$(calc "$exp_cpu / $bb_cpu")"
printf '| /probe median latency | %s ms | %s ms | | |\n' "$exp_lat" "$bb_lat"
printf '| added over a direct request (%s ms) | %s ms | %s ms | | <= 1 ms |\n' "$direct_p50" \
  "$(calc "$exp_lat - $direct_p50" 3)" "$(calc "$bb_lat - $direct_p50" 3)"
printf '| /probe rate at concurrency %s | %s/s | %s/s | %s | >= 2 |\n' "$CONC" "$exp_rate" "$bb_rate" \
  "$(calc "$exp_rate / $bb_rate")"
printf '| RSS idle / after the runs | %s / %s MB | %s / %s MB | | |\n' "$(calc "$exp_rss_start/1024" 1)" \
  "$(calc "$exp_rss_end/1024" 1)" "$(calc "$bb_idle_rss/1024" 1)" "$(calc "$bb_rss_end/1024" 1)"
echo
printf 'blackbox per-probe phases (median of 30): connect %s ms, tls %s ms, processing %s ms\n' \
  "$(awk '{print $1}' "$WORK/phases.txt" | median)" "$(awk '{print $2}' "$WORK/phases.txt" | median)" \
  "$(awk '{print $3}' "$WORK/phases.txt" | median)"
echo "the exporter keeps one pooled connection per host (and TLS setting) and reuses it: no connect or"
echo "TLS handshake after the first probe of a host"
echo
echo "exporter's own count of on-demand probes: $ondemand"
echo
echo "per run (rate/s p50_ms cpu_ms_per_probe errors requests upstream_requests_per_probe):"
for f in exp-lat exp-rate bb-lat bb-rate; do
  sed "s/^/    $f: /" "$WORK/$f.txt"
done
sed 's/^/    direct p50_ms errors: /' "$WORK/direct.txt"
