#!/usr/bin/env bash
# Discovery at fleet scale, against the simulated provider API (50 ms latency, loopback):
#
#   bash bench/discovery.sh
#
# 1. 10,000 integrations from 10,000 files (file_sd_configs), then from one HTTP answer
#    (http_sd_configs, polled every second): time from start to the end of the first full probe
#    cycle; time from a one-file change (a label) to that integration's new result; CPU of a
#    refresh that finds no change (files: a touched file, all 10,000 read and compared, less an
#    idle window; HTTP: one poll of the unchanged 10,000-entry answer).
# 2. `--config.check` of a single file of 10,000 realistic entries (two labels, three scopes,
#    auth from a file, a CA bundle, per-entry settings): median of RUNS.
# 3. 100,000 integrations over 10 `--shard` processes reading the same directory (100 files of
#    1,000): each shard's resident memory after its first cycle and its `/metrics` scrape time.
# Environment: N (10000), BIG (100000), SHARDS (10), RUNS (5), PORT (19215), PARTS (which of
# "files http check shards" to run; all by default).
source "$(dirname "$0")/lib.sh"
N=${N:-10000}
BIG=${BIG:-100000}
SHARDS=${SHARDS:-10}
RUNS=${RUNS:-5}
PORT=${PORT:-19215}
PARTS=${PARTS:-"files http check shards"}
part() { [[ " $PARTS " == *" $1 "* ]]; }
DELAY=50

build
machine
start "$TOOL" sim --delay-ms "$DELAY" --url-file "$WORK/sim.url" --max-seconds 1800
wait_file "$WORK/sim.url" 10
API=$(cat "$WORK/sim.url")
start "$TOOL" https-target --dir "$WORK/tls" --max-seconds 1800
wait_file "$WORK/tls/url" 10

# Writes discovered documents from a fleet config (bench_tool fleet-config's shape):
#   split FLEET DIR PER_FILE  -> DIR/part-NNNNNN.yaml, PER_FILE entries each
#   json FLEET OUT            -> one JSON array
convert() {
  python3 - "$@" <<'PY'
import json, os, sys

def flow(s):
    """The flow YAML bench_tool writes ({a: b, c: [d, e]}) as Python values."""
    s = s.strip()
    def value(i):
        if s[i] == "{":
            out, i = {}, i + 1
            while s[i] != "}":
                k = s.index(": ", i); key = s[i:k].strip(); v, i = value(k + 2)
                out[key] = v; i = s.index(",", i) + 1 if s[i] == "," else i
                while s[i] == " ": i += 1
            return out, i + 1
        if s[i] == "[":
            out, i = [], i + 1
            while s[i] != "]":
                v, i = value(i); out.append(v)
                if s[i] == ",": i += 1
                while s[i] == " ": i += 1
            return out, i + 1
        j = i
        while j < len(s) and s[j] not in ",]}": j += 1
        text = s[i:j].strip()
        return (int(text) if text.isdigit() else text), j
    return value(0)[0]

def entries(path):
    cur = None
    for line in open(path):
        if line.startswith("  - name: "):
            cur = {"name": line.split(": ", 1)[1].strip()}
            yield cur
        elif cur is not None and line.startswith("    "):
            key, val = line.strip().split(": ", 1)
            cur[key] = flow(val) if val[0] in "{[" else val.strip()

mode, fleet, out = sys.argv[1], sys.argv[2], sys.argv[3]
items = list(entries(fleet))
if mode == "json":
    os.makedirs(os.path.dirname(out), exist_ok=True)
    json.dump(items, open(out, "w"))
else:
    per = int(sys.argv[4]); os.makedirs(out, exist_ok=True)
    for k in range(0, len(items), per):
        with open(os.path.join(out, "part-%06d.yaml" % k), "w") as f:
            for e in items[k:k + per]:
                f.write("- " + json.dumps(e) + "\n")
PY
}

# Global settings of the fleet config (everything before `integrations:`), plus $1.
main_config() { sed '/^integrations:/,$d' "$WORK/fleet.yml"; printf '%s\n' "$1"; }

# Seconds (3 decimals) until integration $2's result finished after unix time $3, on port $1.
result_after() {
  local deadline=$((SECONDS + 30)) at
  while [ $SECONDS -lt $deadline ]; do
    # finished_at is RFC 3339 in the JSON API (src/runtime/view.rs); compared as unix seconds.
    at=$(curl -sf "http://127.0.0.1:$1/api/v1/integrations/$2" | python3 -c '
import datetime, json, sys
at = json.load(sys.stdin).get("finished_at")
print(datetime.datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() if at else 0)')
    if awk -v a="$at" -v t="$3" 'BEGIN {exit !(a > t)}'; then
      calc "$at - $3" 3
      return
    fi
    sleep 0.02
  done
  echo timeout
}

"$TOOL" fleet-config --n "$N" --api "$API" --interval 1h --max-concurrency 256 --out "$WORK/fleet.yml"
convert split "$WORK/fleet.yml" "$WORK/files" 1
convert json "$WORK/fleet.yml" "$WORK/http/fleet.json"
start python3 -m http.server --bind 127.0.0.1 --directory "$WORK/http" $((PORT + 100))
wait_http "http://127.0.0.1:$((PORT + 100))/fleet.json" 10

for source in files http; do
  part "$source" || continue
  if [ "$source" = files ]; then
    main_config "file_sd_configs: [{files: [$WORK/files/*.yaml], refresh_interval: 1h}]" >"$WORK/main-files.yml"
  else
    main_config "http_sd_configs: [{url: http://127.0.0.1:$((PORT + 100))/fleet.json, refresh_interval: 1s}]" >"$WORK/main-http.yml"
  fi
  curl -sf -o /dev/null "$API/__bench/reset"
  t0=$(date +%s.%N)
  start "$EXPORTER" --config.file "$WORK/main-$source.yml" --web.listen-address "127.0.0.1:$PORT" --log.level warn
  pid=$LAST_PID
  cyc=$("$TOOL" cycles --sim "$API" --n "$N" --cycles 1 --pid "$pid" --delay-ms "$DELAY" --max-seconds 300)
  first=$(field "$cyc" first_request_unix)
  to_first=$(calc "$first - $t0 + $(field "$cyc" complete_s)" 2)
  name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[17]["name"])' "$WORK/http/fleet.json")
  # One entry changes (a label): it alone is probed again.
  if [ "$source" = files ]; then
    f=$(grep -l "\"$name\"" "$WORK"/files/*.yaml)
    t1=$(date +%s.%N)
    sed 's/"team-[0-9]*"/"team-changed"/' "$f" >"$f.new" && mv "$f.new" "$f"
  else
    python3 - "$WORK/http/fleet.json" "$name" <<'PY'
import json, sys
items = json.load(open(sys.argv[1]))
for e in items:
    if e["name"] == sys.argv[2]:
        e["labels"]["team"] = "team-changed"
json.dump(items, open(sys.argv[1] + ".new", "w"))
PY
    t1=$(date +%s.%N)
    mv "$WORK/http/fleet.json.new" "$WORK/http/fleet.json"
  fi
  changed=$(result_after "$PORT" "$name" "$t1")
  # CPU of a re-scan that finds nothing new, less the same window without one.
  sleep 2
  c0=$(cpu_ticks "$pid"); sleep 3; idle=$(( $(cpu_ticks "$pid") - c0 ))
  c0=$(cpu_ticks "$pid")
  if [ "$source" = files ]; then touch "$WORK/files/part-000000.yaml"; fi
  sleep 3; busy=$(( $(cpu_ticks "$pid") - c0 ))
  if [ "$source" = files ]; then
    rescan_ms=$(calc "($busy - $idle) * 1000 / $CLK_TCK" 0)
  else
    # Polled every second: each 3 s window holds three polls of an unchanged answer.
    rescan_ms=$(calc "($busy + $idle) * 1000 / $CLK_TCK / 6" 0)
  fi
  rss=$(rss_kb "$pid")
  echo "source=$source n=$N first_cycle_s=$to_first change_to_result_s=$changed noop_rescan_cpu_ms=$rescan_ms rss_mb=$(calc "$rss / 1024" 1)"
  stop "$pid"
done

# A single file of realistic entries through --config.check.
if part check; then
python3 - "$WORK/realistic.yml" "$N" "$WORK/tls/ca.pem" <<'PY'
import sys
out, n, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(out, "w") as f:
    f.write("global:\n  labels: {env: prod}\nintegrations:\n")
    for i in range(n):
        f.write(f"""  - name: customer-{i:05d}-hubspot
    provider: hubspot
    labels:
      tenant: t{i}
      plan: enterprise
    auth:
      type: bearer
      token_file: /run/secrets/customer-{i:05d}
    scopes:
      required: [crm.objects.contacts.read, crm.objects.companies.read, crm.objects.deals.read]
    tls:
      ca_file: {ca}
    interval: 15m
    timeout: 10s
""")
PY
: >"$WORK/check.txt"
for _ in $(seq "$RUNS"); do
  t0=$(date +%s%N)
  "$EXPORTER" --config.check --config.file "$WORK/realistic.yml" >/dev/null
  echo $(( ($(date +%s%N) - t0) / 1000000 )) >>"$WORK/check.txt"
done
echo "config_check n=$N bytes=$(wc -c <"$WORK/realistic.yml") median_ms=$(median <"$WORK/check.txt")"
fi

# 100,000 over SHARDS processes reading the same directory.
part shards || exit 0
"$TOOL" fleet-config --n "$BIG" --api "$API" --interval 1h --max-concurrency 256 --out "$WORK/fleet.yml"
convert split "$WORK/fleet.yml" "$WORK/big" 1000
main_config "file_sd_configs: [{files: [$WORK/big/*.yaml]}]" >"$WORK/main-big.yml"
curl -sf -o /dev/null "$API/__bench/reset"
pids=()
for i in $(seq 0 $((SHARDS - 1))); do
  start "$EXPORTER" --config.file "$WORK/main-big.yml" --web.listen-address "127.0.0.1:$((PORT + 1 + i))" \
    --shard "$i/$SHARDS" --log.level warn
  pids+=("$LAST_PID")
done
cyc=$("$TOOL" cycles --sim "$API" --n "$BIG" --cycles 1 --pid "${pids[0]}" --delay-ms "$DELAY" --max-seconds 600)
log "all $BIG probed: $cyc"
for i in $(seq 0 $((SHARDS - 1))); do
  scr=$("$TOOL" scrape --url "http://127.0.0.1:$((PORT + 1 + i))/metrics" --runs 15)
  echo "shard=$i/$SHARDS integrations=$(field "$scr" integrations) rss_mb=$(calc "$(rss_kb "${pids[$i]}") / 1024" 1)" \
    "scrape_ms_median=$(field "$scr" scrape_ms_median)"
done
printf 'load average at end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
