#!/usr/bin/env bash
# skinscan's benchmarks: builds in release mode, starts the simulator as a separate process
# for each workload, runs skinscan against it (and h2load for the raw-throughput peer), and
# prints a Markdown table of every target of ../shared/DESIGN.md with its measured figure.
#
#   bash bench/run.sh            # everything (about 15 minutes)
#   BENCH_QUICK=1 bash bench/run.sh   # skip the 100k-listings scale run
#   BENCH_WATCH=1 bash bench/run.sh   # row 7 only (watch mode, 7 runs of 70 s)
#   BENCH_WATCH=signed | skew | refresh  # the signed watch run alone | the unequal-arrivals
#                                     # pair | prices refreshed ahead or not, a 10 s TTL
#   BENCH_KEEP=1                      # keep the run's files and say where
#   BENCH_BUY=1 bash bench/run.sh     # row 11 only (buying on the living market, 70 s)
#   BENCH_NET=1 bash bench/run.sh     # rows 4a (loadgen vs h2load against nghttpd) and 9
#                                     # (the three limiters) alone, about a minute
#   BENCH_CROSS=1 bash bench/run.sh   # row 10 alone (cross markets: cycles, snapshot memory), ~15 s
#
# Needs: cargo, python3, curl; installs h2load (Debian's nghttp2-client) and GNU time if
# missing, and httpx[http2] (the original bot's HTTP stack, from PyPI) in target/bench-venv.
# Benchmarks are not tests: nothing here asserts a timing; CI does not run it.
set -euo pipefail
cd "$(dirname "$0")/.."

install() { # command package
  command -v "$1" >/dev/null 2>&1 && return
  echo "installing $2 (for $1)" >&2
  apt-get install -y "$2" >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y "$2" >/dev/null; }
}
install h2load nghttp2-client
install nghttpd nghttp2-server
install valgrind valgrind
[ -x /usr/bin/time ] || install /usr/bin/time time

VENV=$PWD/target/bench-venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import httpx, h2, cryptography' 2>/dev/null; then
  echo "installing httpx[http2] (the seed's stack, for row 4) and cryptography (a key pair for the signed row) in $VENV" >&2
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q 'httpx[http2]' cryptography
fi
# A throwaway Ed25519 key pair in DMarket's hex form (public 64 hex; secret = seed + public).
read -r PUB SEC < <("$VENV/bin/python" - <<'KEYS'
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization as s
k = Ed25519PrivateKey.generate()
seed = k.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption()).hex()
pub = k.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw).hex()
print(pub, seed + pub)
KEYS
)
# Limits that never bind, for workloads that measure something else than DMarket's limits.
UNLIMITED='[market.limits]
market = "100000/s"
sales = "100000/s"
fees = "100000/s"
other = "100000/s"'

echo "building (release)..." >&2
cargo build --release --locked -q -p skinscan-core --bin skinscan --example loadgen --example storebench --example crossbench
cargo build --release --locked -q -p skinscan-net --example limiters --example h2floor
BIN=$PWD/target/release/skinscan
LOADGEN=$PWD/target/release/examples/loadgen
WORK=$(mktemp -d)
SIM_PID=
# BENCH_KEEP=1 keeps the run's files (configs, JSON Lines, truth, logs) and names the folder.
NGHTTPD_PID=
cleanup() { [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; [ -n "$NGHTTPD_PID" ] && kill "$NGHTTPD_PID" 2>/dev/null; if [ -n "${BENCH_KEEP:-}" ]; then echo "files kept in $WORK" >&2; else rm -rf "$WORK"; fi; }
trap cleanup EXIT

# start_sim ARGS...: a simulator on an ephemeral port; sets SIM_URL and SIM_PID.
start_sim() {
  stop_sim
  "$BIN" sim --listen 127.0.0.1:0 --quiet "$@" >"$WORK/sim.out" 2>"$WORK/sim.err" &
  SIM_PID=$!
  for _ in $(seq 1 600); do
    grep -q '^listening on ' "$WORK/sim.out" 2>/dev/null && break
    sleep 0.1
  done
  SIM_URL=$(sed -n 's/^listening on //p' "$WORK/sim.out")
  [ -n "$SIM_URL" ] || { echo "the simulator did not start:" >&2; cat "$WORK/sim.err" >&2; exit 1; }
}
stop_sim() { if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; SIM_PID=; fi; }
sim_stats() { curl -s "$SIM_URL/__sim/stats"; }

# scan NAME CONFIG_BODY [CYCLES]: one `skinscan scan --cycles CYCLES` (default 1) under
# /usr/bin/time -v against SIM_URL;
# writes $WORK/NAME.json (the cycle), $WORK/NAME.time and $WORK/NAME.stats (the sim's view).
scan() {
  local name=$1 body=$2 cycles=${3:-1}
  printf '[market]\nendpoint = "%s"\n%s\n' "$SIM_URL" "$body" >"$WORK/$name.toml"
  python3 bench/rusage.py "$WORK/$name.rusage" /usr/bin/time -v -o "$WORK/$name.time" \
    "$BIN" scan --cycles "$cycles" --quiet --format json \
    --config "$WORK/$name.toml" >"$WORK/$name.json" 2>"$WORK/$name.err" \
    || { echo "scan $name failed:" >&2; cat "$WORK/$name.err" >&2; exit 1; }
  sim_stats >"$WORK/$name.stats"
}

plugins() { # ITEMS EXTRA: the four games' tables
  for g in csgo dota2 rust tf2; do printf '[plugins.%s]\nitems = %s\n%b\n' "$g" "$1" "${2:-}"; done
}

UNFILTERED='[plugins.csgo]
use_default_blacklist = false
include_souvenir = true
[plugins.dota2]
use_default_blacklist = false
[plugins.rust]
use_default_blacklist = false
[plugins.tf2]
use_default_blacklist = false
include_keys = true'
# Row 4a: the request path against a server that is not the bottleneck. nghttpd serves the
# exact page loadgen asks for (fetched once from the simulator, the same bytes, the query
# ignored by nghttpd), one connection, 100 in flight; h2load and loadgen alternate three
# times in one run, so both see the same machine, with the floor under loadgen (the h2
# library alone, examples/h2floor) after each pair. Each line also gives the client's and
# nghttpd's CPU time (getrusage of the client, /proc of nghttpd).
net_rows() {
  start_sim --no-published-limits --items-per-game 1000
  "$LOADGEN" --url "$SIM_URL" --requests 1 --concurrency 1 >"$WORK/path.json"
  local path; path=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["path"])' "$WORK/path.json")
  mkdir -p "$WORK/htdocs/${path%/*}"
  curl -s --http2-prior-knowledge -o "$WORK/htdocs/${path%%\?*}" "$SIM_URL$path"
  stop_sim
  local port; port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  nghttpd --no-tls -a 127.0.0.1 -d "$WORK/htdocs" "$port" >"$WORK/nghttpd.out" 2>&1 &
  NGHTTPD_PID=$!
  for _ in $(seq 1 50); do curl -s -o /dev/null --http2-prior-knowledge "http://127.0.0.1:$port$path" && break; sleep 0.1; done
  ng_cpu() { awk '{print ($14+$15)*10}' "/proc/$NGHTTPD_PID/stat"; } # ms
  for i in 1 2 3; do
    local a; a=$(ng_cpu)
    python3 bench/rusage.py "$WORK/ng_h2load$i.rusage" h2load -c1 -m100 -n100000 "http://127.0.0.1:$port$path" >"$WORK/ng_h2load$i.txt" 2>&1
    echo $(( $(ng_cpu) - a )) >"$WORK/ng_h2load$i.server_ms"; a=$(ng_cpu)
    python3 bench/rusage.py "$WORK/ng_loadgen$i.rusage" "$LOADGEN" --url "http://127.0.0.1:$port" --requests 100000 --concurrency 100 >"$WORK/ng_loadgen$i.json"
    echo $(( $(ng_cpu) - a )) >"$WORK/ng_loadgen$i.server_ms"
    "$PWD/target/release/examples/h2floor" "127.0.0.1:$port" "$path" 100000 100 h2 >"$WORK/ng_floor$i.json"
  done
  kill "$NGHTTPD_PID" 2>/dev/null || true; wait "$NGHTTPD_PID" 2>/dev/null || true; NGHTTPD_PID=
  wc -c <"$WORK/htdocs/${path%%\?*}" >"$WORK/ng_bytes"
  # Row 9: the three limiters, N requests at R/s by 8 tasks, each in turn, one process.
  "$PWD/target/release/examples/limiters" --rates 30,1000 --seconds 5 --tasks 8 >"$WORK/limiters.jsonl"
}
net_table() {
  python3 - "$WORK" <<'PY'
import json, re, sys
work = sys.argv[1]
size = int(open(f"{work}/ng_bytes").read())
ratios = []
for i in (1, 2, 3):
    h2 = open(f"{work}/ng_h2load{i}.txt").read()
    h2rps = float(re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", h2).group(1))
    h2ok = re.search(r"(\d+) succeeded", h2).group(1)
    lg = json.load(open(f"{work}/ng_loadgen{i}.json"))
    floor = json.load(open(f"{work}/ng_floor{i}.json"))
    # CPU per request, us: the client's own (getrusage) and nghttpd's while it served it.
    cpu = lambda name, n: json.load(open(f"{work}/ng_{name}{i}.rusage"))["cpu_s"] * 1e6 / n
    srv = lambda name, n: int(open(f"{work}/ng_{name}{i}.server_ms").read()) * 1e3 / n
    ratios.append(lg["rps"] / h2rps)
    print(f"| 4a. Request path vs h2load, nghttpd serving the same {size:,}-byte page, one connection, 100 in flight, 100,000 requests (alternation {i}) | >= 0.8x h2load | "
          f"skinscan {lg['rps']:,.0f} req/s ({lg['errors']} errors, {lg['connections']} connection; CPU {cpu('loadgen', lg['requests']):.1f} us/request, nghttpd {srv('loadgen', lg['requests']):.1f}) vs h2load {h2rps:,.0f} req/s ({h2ok} ok; CPU {cpu('h2load', 100000):.1f} us/request, nghttpd {srv('h2load', 100000):.1f}) = **{lg['rps']/h2rps:.2f}x**; "
          f"the h2 library alone (examples/h2floor) {floor['rps']:,.0f} req/s = {floor['rps']/h2rps:.2f}x |")
print(f"| 4a. ... median of the three | >= 0.8x | {sorted(ratios)[1]:.2f}x |")
for line in open(f"{work}/limiters.jsonl"):
    r = json.loads(line)
    print(f"| 9. Limiter {r['limiter']}: N = {r['n']:,} at R = {r['rate']:g}/s, {r['tasks']} tasks | wall / (N/R) close to 1; max in any 1 s <= R | "
          f"{r['wall_s']:.3f} s / {r['ideal_s']:.3f} s = {r['wall_over_ideal']:.4f}; max {r['max_in_1s']} in 1 s ({r['max_in_1s_over_rate']:.3f} x R) |")
PY
}
if [ -n "${BENCH_NET:-}" ]; then
  net_rows
  net_table
  exit 0
fi

# Row 10: cross markets. One cycle (and a second) against the embedded simulator with
# DMarket alone, with Skinport and CSFloat, and with Skinport's 7-day median; then the
# memory and speed of a 20,000-row Skinport snapshot (a counting allocator in the example).
cross_rows() {
  "$PWD/target/release/examples/crossbench" --items 100 --latency-ms 100 --rows 20000 --lookups 100000 >"$WORK/cross.json"
}
cross_table() {
  python3 - "$WORK" <<'PY'
import json, sys
c = json.load(open(f"{sys.argv[1]}/cross.json"))
for run in c["cycles"]:
    one, two = run["cycles"]
    reqs = ", ".join(f"{m} {n}" for m, n in one["requests"].items())
    opps = ", ".join(f"{s} {n}" for s, n in one["opportunities"].items())
    print(f"| 10. Cross: {run['run']}, 4 games x {c['items_per_game']} listings, {c['latency_ms']} ms, published limits | the markets' cost | "
          f"cycle 1 {one['wall_s']:.2f} s ({reqs}; {opps}; {one['rate_limited']} x 429), cycle 2 {two['wall_s']:.2f} s "
          f"(markets {sum(n for m, n in two['requests'].items() if m != 'dmarket')} requests) |")
s = c["snapshot"]
i, b = s["items_only"], s["items_and_sales"]
print(f"| 10. Skinport snapshot of {s['rows_asked']:,} rows ({s['items_answer_mib']} MiB /v1/items, {s['sales_answer_mib']} MiB sales history) | small next to the answer | "
      f"kept {i['kept_mib']} MiB ({i['kept_bytes_per_row']} B/row), peak {i['peak_mib']} MiB, parse+build {i['parse_and_build_ms']} ms; with sales kept {b['kept_mib']} MiB, peak {b['peak_mib']} MiB, {b['parse_and_build_ms']} ms; "
      f"{s['lookups']:,} lookups {s['lookup_ms']} ms ({s['ns_per_lookup']:.0f} ns each) |")
PY
}
if [ -n "${BENCH_CROSS:-}" ]; then
  cross_rows
  cross_table
  exit 0
fi

# watch_run NAME SIGNED(0|1) KIND(watch|cycle|seed|peer): a living market (5 new listings/s
# per game, 10% underpriced, competitors buy those after 20 s on average), 100 ms latency,
# the published limits; 70 s run, the 55 s after a 10 s warm-up scored against the truth.
# Optional: SIM_EXTRA (more simulator flags) and TOML_EXTRA (more config, watch only).
watch_run() {
  local name=$1 signed=$2 kind=$3 sim_extra=${4:-} toml_extra=${5:-} keys="" simkey=""
  if [ "$signed" = 1 ]; then
    keys="public_key = \"$PUB\"
secret_key = \"$SEC\""
    simkey="--public-key $PUB"
  fi
  # shellcheck disable=SC2086
  start_sim --living 5 --competitor-mean-secs 20 --latency-ms 100 --items-per-game 1000 $simkey $sim_extra
  local t0; t0=$(date +%s.%N)
  case $kind in
    watch)
      # Like with like: the truth counts every underpriced listing, the peer filters none,
      # so the games' default blacklists and rules (stickers, cases, souvenirs, keys) are off.
      printf '[market]\nendpoint = "%s"\n%s\n%s\n%b\n' "$SIM_URL" "$keys" "$UNFILTERED" "$toml_extra" >"$WORK/$name.toml"
      "$BIN" watch --for 70s --quiet --format json --jsonl "$WORK/$name.jsonl" \
        --config "$WORK/$name.toml" >/dev/null 2>"$WORK/$name.err" ;;
    cycle|seed)
      local interval=0s; [ "$kind" = seed ] && interval=300s
      printf '[market]\nendpoint = "%s"\n%s\n[scanner]\nscan_interval = "%s"\n%s\n' "$SIM_URL" "$keys" "$interval" "$UNFILTERED" >"$WORK/$name.toml"
      timeout -s INT 70 "$BIN" scan --quiet --format json --jsonl "$WORK/$name.jsonl" \
        --config "$WORK/$name.toml" >/dev/null 2>"$WORK/$name.err" || true ;;
    peer)
      "$VENV/bin/python" bench/watch_peer.py "$SIM_URL" "$PUB" "$SEC" 8 70 "$WORK/$name.jsonl" 2>"$WORK/$name.err" ;;
  esac
  curl -s "$SIM_URL/__sim/truth" >"$WORK/$name.truth"
  sim_stats >"$WORK/$name.stats"
  local requests; requests=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$WORK/$name.stats")
  python3 bench/watch_eval.py "$WORK/$name.truth" "$WORK/$name.jsonl" \
    "$( [ "$kind" = peer ] && echo peer || { [ "$kind" = watch ] && echo watch || echo cycle; } )" \
    "$(python3 -c "print($t0 + 10)")" "$(python3 -c "print($t0 + 65)")" "$requests" >"$WORK/$name.score"
}

# Row 11: buying on the living market (as row 7's signed watch: 5 new listings/s per game,
# 10% underpriced, competitors after 20 s on average, 100 ms latency, the published limits),
# live against the simulator with caps wide enough never to bind on price; 70 s, the 55 s
# after a 10 s warm-up scored against the truth and the market's own record of purchases.
buy_run() {
  start_sim --living 5 --competitor-mean-secs 20 --latency-ms 100 --items-per-game 1000 \
    --public-key "$PUB" --balance-cents 100000000
  local t0; t0=$(date +%s.%N)
  printf '[market]\nendpoint = "%s"\npublic_key = "%s"\nsecret_key = "%s"\n%s\n[history]\npath = "%s"\n[buy]\nmode = "live"\nmax_price = 100000\ndaily_budget = %s\nmax_buys_per_hour = 100000\nmin_profit = 0\nmin_roi = 0\n' \
    "$SIM_URL" "$PUB" "$SEC" "$UNFILTERED" "$WORK/buy.db" "$((BUY_BUDGET / 100))" >"$WORK/buy.toml"
  SKINSCAN_BUY_LIVE=1 "$BIN" watch --for 70s --quiet --format json --jsonl "$WORK/buy.jsonl" \
    --config "$WORK/buy.toml" >/dev/null 2>"$WORK/buy.err"
  curl -s "$SIM_URL/__sim/truth" >"$WORK/buy.truth"
  curl -s "$SIM_URL/__sim/buys" >"$WORK/buy.buys"
  python3 bench/buy_eval.py "$WORK/buy.truth" "$WORK/buy.buys" \
    "$(python3 -c "print($t0 + 10)")" "$(python3 -c "print($t0 + 65)")" "$BUY_BUDGET" >"$WORK/buy.score"
  stop_sim
}
BUY_BUDGET=${BUY_BUDGET:-50000000}
if [ -n "${BENCH_BUY:-}" ]; then
  echo "11. buying on a living market (one run of 70 s)" >&2
  buy_run
  echo "| 11. Living market, 20 s competitors: skinscan watch buying live (signed) | $(cat "$WORK/buy.score") |"
  exit 0
fi

if [ -n "${BENCH_WATCH:-}" ] || [ -z "${BENCH_SKIP_WATCH:-}" ]; then
  echo "7. watch: capture and delay on a living market (9 runs of 70 s)" >&2
  # Unequal arrivals (CS:GO 12 new listings/s, the others 1/s): the budget planned by arrival
  # rate (the default) against an even split (floor_share = 1), signed.
  skew="--game-rate a8db=12 --game-rate 9a92=1 --game-rate rust=1 --game-rate tf2=1"
  if [ "${BENCH_WATCH:-}" != skew ]; then
    watch_run watch_signed 1 watch
  fi
  if [ -z "${BENCH_WATCH:-}" ] || [ "${BENCH_WATCH:-}" = 1 ] || [ "${BENCH_WATCH:-}" = skew ]; then
    watch_run skew_planned 1 watch "$skew"
    watch_run skew_even 1 watch "$skew" '[watch]\nfloor_share = 1.0'
  fi
  # A long-lived watch compressed: a 10 s price TTL (instead of 5 minutes), titles priced
  # again before they expire (the default) or only when a listing asks after expiry.
  if [ -z "${BENCH_WATCH:-}" ] || [ "${BENCH_WATCH:-}" = 1 ] || [ "${BENCH_WATCH:-}" = refresh ]; then
    watch_run ttl_refresh 1 watch "" '[watch]\nprice_ttl = "10s"'
    watch_run ttl_expire 1 watch "" '[watch]\nprice_ttl = "10s"\nrefresh_ahead = false'
  fi
  if [ "${BENCH_WATCH:-}" != signed ] && [ "${BENCH_WATCH:-}" != skew ] && [ "${BENCH_WATCH:-}" != refresh ]; then
    watch_run watch_unsigned 0 watch
    watch_run cycle_fast 1 cycle
    watch_run seed_way 1 seed
    watch_run peer 1 peer
  fi
fi
if [ -n "${BENCH_WATCH:-}" ]; then
  python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
for name, what in [("watch_signed", "skinscan watch, signed (listings 10/s, other 20/s)"),
                   ("watch_unsigned", "skinscan watch, unsigned (listings 2/s, other 6/s)"),
                   ("skew_planned", "unequal arrivals (CS:GO 12/s, others 1/s): skinscan watch, budget by arrival rate (default), signed"),
                   ("skew_even", "unequal arrivals (CS:GO 12/s, others 1/s): skinscan watch, even split (floor_share = 1), signed"),
                   ("ttl_refresh", "a 10 s price TTL, titles priced again before they expire (refresh_ahead, the default), signed"),
                   ("ttl_expire", "a 10 s price TTL, titles priced only when asked for after expiry (refresh_ahead = false), signed"),
                   ("cycle_fast", "skinscan scan, cycles back to back (cheapest 100 per game), signed"),
                   ("seed_way", "the seed's way: a cycle of the cheapest 100 per game every 300 s, signed"),
                   ("peer", "a plain newest-first poller on httpx (bench/watch_peer.py), 8 polls/s, signed")]:
    try:
        print(f"| 7. {what} |", open(f"{work}/{name}.score").read().strip(), "|")
    except OSError:
        pass
PY
  exit 0
fi

echo "1. cycle: 4 games x 100 listings, 100 ms, DMarket's published limits (the defaults), unsigned and signed" >&2
start_sim --latency-ms 100 --items-per-game 1000
scan cycle "$(plugins 100)"
start_sim --latency-ms 100 --items-per-game 1000 --public-key "$PUB"
scan cycle_signed "public_key = \"$PUB\"
secret_key = \"$SEC\"
$(plugins 100)"

echo "2-3. rate precision: one price request per listing at 30 req/s; parallel vs sequential" >&2
start_sim --no-published-limits --rate 30 --latency-ms 100 --items-per-game 1000
scan precision "rate_limit = 30
$UNLIMITED
$(plugins 100 'pricing = "per_listing"\nmax_in_flight = 4')"
start_sim --no-published-limits --rate 30 --latency-ms 100 --items-per-game 1000
scan sequential "rate_limit = 30
$UNLIMITED
[scanner]
parallel = false
$(plugins 100 'pricing = "per_listing"\nmax_in_flight = 4')"
start_sim --no-published-limits --rate 30 --latency-ms 100 --items-per-game 1000
scan original "rate_limit = 30
$UNLIMITED
[scanner]
parallel = false
$(plugins 100 'pricing = "per_listing"\nmax_in_flight = 1')"

echo "4. raw throughput on one HTTP/2 connection: skinscan vs h2load -c1 -m100" >&2
start_sim --no-published-limits --items-per-game 1000
"$LOADGEN" --url "$SIM_URL" --requests 200000 --concurrency 100 >"$WORK/loadgen.json"
path=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["path"])' "$WORK/loadgen.json")
h2load -c1 -m100 -n200000 "$SIM_URL$path" >"$WORK/h2load.txt" 2>&1
"$VENV/bin/python" bench/httpx_peer.py "$SIM_URL" "$path" 5000 100 >"$WORK/httpx.json"
sim_stats >"$WORK/throughput.stats"

echo "4a, 9. the request path vs h2load against nghttpd; the three limiters" >&2
net_rows
start_sim --no-published-limits --items-per-game 1000

echo "6. memory over a million requests through Upstream::send (a leak is a rising line)" >&2
"$LOADGEN" --url "$SIM_URL" --requests 1000000 --concurrency 100 --rate 1e9 --limit 1 --rss-every 100000 >"$WORK/leak.json"

echo "8. history store: watch events written one transaction each (SQLite, WAL)" >&2
"$PWD/target/release/examples/storebench" --events 20000 >"$WORK/store.json"

echo "10. cross markets: cycles with and without Skinport and CSFloat; snapshot memory" >&2
cross_rows

echo "5. scale: 1k, 10k, 100k listings per game (no latency, no limit)" >&2
sizes="1000 10000 100000"
[ -n "${BENCH_QUICK:-}" ] && sizes="1000 10000"
start_sim --no-published-limits --items-per-game "${sizes##* }"
for n in 1 $sizes; do
  for rep in 1 2 3; do # three runs each: the table takes the median CPU
    body="rate_limit = 1000000
$UNLIMITED
[scanner]
scan_interval = \"0s\"
$(plugins "$n" 'max_results = 50')"
    scan "scale$n-$rep" "$body"
    # A running host: six cycles in one process; cycles 2-6 are warm.
    scan "warm$n-$rep" "$body" 6
  done
done
# The same scans under callgrind: instructions are counted, not timed, so the cost per
# listing is exact and repeatable whatever else the machine does.
for n in 1 $sizes; do
  valgrind --tool=callgrind --callgrind-out-file="$WORK/cg$n.out" "$BIN" scan --once --quiet \
    --format json --config "$WORK/scale$n-1.toml" >/dev/null 2>"$WORK/cg$n.err"
done
stop_sim

python3 - "$WORK" "$sizes" <<'PY'
import json, re, sys, os, platform, subprocess
work, sizes = sys.argv[1], sys.argv[2].split()
def load(n): return json.load(open(f"{work}/{n}.json"))
def stats(n): return json.load(open(f"{work}/{n}.stats"))
def gnutime(n):
    # Peak RSS as /usr/bin/time -v reports it; CPU from getrusage (microseconds, where
    # time -v rounds to 10 ms); the median CPU of the runs named n-1, n-2, n-3.
    runs = []
    for rep in (1, 2, 3):
        t = open(f"{work}/{n}-{rep}.time").read()
        ru = json.load(open(f"{work}/{n}-{rep}.rusage"))
        ru["rss_mb"] = int(re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", t).group(1)) / 1024
        runs.append(ru)
    runs.sort(key=lambda r: r["cpu_s"])
    median = dict(runs[1])
    median["rss_mb"] = max(r["rss_mb"] for r in runs)
    return median
def cycle(n):
    c = load(n)
    reqs = sum(g["requests"] for g in c["games"])
    failed = [g["game"] for g in c["games"] if g["status"] != "ok"]
    return c["elapsed_ms"] / 1000, reqs, failed
def r429(n): return stats(n)["status"].get("429", 0)

rows = []
for name, who in (("cycle", "unsigned: listings 2/s, other 6/s"), ("cycle_signed", "signed: listings 10/s, other 20/s, fees 110/s")):
    t, n, failed = cycle(name)
    peak = stats(name).get("max_in_window", {})
    rows.append((f"1. Cycle, 4 games x 100 listings, 100 ms, published limits ({who})", "< 1.0 s, 0 x 429",
                 f"{t:.2f} s ({n} requests, {r429(name)} x 429, busiest windows {peak}{', FAILED ' + str(failed) if failed else ''})"))
t, n, _ = cycle("precision")
rows.append(("2. Rate precision, N requests at R = 30/s", "wall / (N/R) <= 1.03, 0 x 429",
             f"N = {n}: {t:.2f} s / {n/30:.2f} s = {t/(n/30):.3f}, {r429('precision')} x 429, max {stats('precision')['max_requests_in_1s']} in 1 s"))
ts, ns, _ = cycle("sequential"); to, no, _ = cycle("original")
rows.append(("3. Parallel vs sequential (workload 2)", "original: 40 s -> 15 s",
             f"parallel {t:.2f} s; sequential {ts:.2f} s ({ts/t:.2f}x); one request at a time, as the original {to:.2f} s ({to/t:.2f}x)"))
lg = json.load(open(f"{work}/loadgen.json"))
h2 = open(f"{work}/h2load.txt").read()
h2rps = float(re.search(r"finished in [\d.]+s, ([\d.]+) req/s", h2).group(1))
h2ok = re.search(r"(\d+) succeeded", h2).group(1)
rows.append(("4. Raw throughput, one HTTP/2 connection, 100 in flight", ">= 0.5 x h2load",
             f"skinscan {lg['rps']:,.0f} req/s ({lg['connections']} connection, {lg['errors']} errors) vs h2load {h2rps:,.0f} req/s ({h2ok} ok) = {lg['rps']/h2rps:.2f}x"))
hx = json.load(open(f"{work}/httpx.json"))
rows.append(("4. ... vs the original's stack, httpx + asyncio, one HTTP/2 connection", ">= 50x",
             f"httpx {hx['rps']:,.0f} req/s ({hx['errors']} errors): skinscan = {lg['rps']/hx['rps']:.0f}x"))
scale = []
base = gnutime("scale1")
base_listings = sum(x["listings_seen"] for x in load("scale1-1")["games"])
for s in sizes:
    g = gnutime(f"scale{s}"); c = load(f"scale{s}-1")
    listings = sum(x["listings_seen"] for x in c["games"])
    marginal = (g["cpu_s"] - base["cpu_s"]) / (listings - base_listings)
    scale.append(marginal)
    rows.append((f"5. Scale, {int(s):,} listings per game", "peak RSS <= 30 MB at 100k; CPU/listing flat",
                 f"{listings:,} listings in {c['elapsed_ms']/1000:.2f} s: peak RSS {g['rss_mb']:.1f} MB; CPU {g['cpu_s']*1e3:.0f} ms (sys {g['sys_s']*1e3:.0f}), "
                 f"{marginal*1e6:.2f} us/listing above the start-up ({base['cpu_s']*1e3:.0f} ms, {base['rss_mb']:.1f} MB)"))
if len(scale) >= 2:
    rows.append(("5. CPU time per listing, one-cycle processes, spread", "within 20%", f"max/min = {max(scale)/min(scale):.2f}"))
warm = []
for s in sizes:
    g1, g6 = gnutime(f"scale{s}"), gnutime(f"warm{s}")
    listings = sum(x["listings_seen"] for x in load(f"scale{s}-1")["games"])
    warm.append((g6["cpu_s"] - g1["cpu_s"]) / (5 * listings))
rows.append(("5. CPU time per listing in a running host (cycles 2-6 of one process), 1k / 10k / 100k", "within 20%",
             " / ".join(f"{w*1e6:.2f} us" for w in warm) + f": max/min = {max(warm)/min(warm):.2f}"))
lk = json.load(open(f"{work}/leak.json"))
rss = lk["rss_kb"]
after_warmup = [kb for done, kb in rss if done >= 200000]
rows.append(("6. RSS over 1,000,000 requests (one connection, limiter at 1e9/s)", "flat",
             f"{rss[1][1]/1024:.1f} MB at {rss[1][0]:,} requests, {after_warmup[0]/1024:.1f} MB at 200k, {rss[-1][1]/1024:.1f} MB at 1M: "
             f"{(rss[-1][1]-after_warmup[0])*1024/800000:.2f} bytes per request after warm-up"))
def instructions(n):
    return int(re.search(r"Collected : (\d+)", open(f"{work}/cg{n}.err").read()).group(1))
per = []
for s in sizes:
    listings = sum(x["listings_seen"] for x in load(f"scale{s}-1")["games"])
    per.append((instructions(s) - instructions(1)) / (listings - base_listings))
rows.append(("5. Instructions per listing (callgrind), 1k / 10k / 100k", "within 20%",
             " / ".join(f"{p:,.0f}" for p in per) + f": max/min = {max(per)/min(per):.2f}"))
for name, what in [("watch_signed", "watch, signed (listings 10/s, other 20/s)"),
                   ("watch_unsigned", "watch, unsigned (listings 2/s, other 6/s)"),
                   ("skew_planned", "unequal arrivals (CS:GO 12/s, others 1/s), watch, budget by arrival rate, signed"),
                   ("skew_even", "unequal arrivals (CS:GO 12/s, others 1/s), watch, even split, signed"),
                   ("ttl_refresh", "a 10 s price TTL, prices refreshed ahead (the default), signed"),
                   ("ttl_expire", "a 10 s price TTL, refresh_ahead = false, signed"),
                   ("cycle_fast", "cycle mode back to back (cheapest 100 per game), signed"),
                   ("seed_way", "the seed's way (cheapest 100 per game every 300 s), signed"),
                   ("peer", "plain newest-first poller on httpx, 8 polls/s, signed")]:
    try:
        sc = json.load(open(f"{work}/{name}.score"))
    except (OSError, ValueError):
        continue
    rows.append((f"7. Living market, 20 s competitors: {what}", "capture >= 99%, p50 <= 0.45 s, p90 <= 0.7 s (watch, signed)",
                 f"capture {sc['caught']}/{sc['listed']} = {sc['capture']}, delay p50 {sc['p50']} s / p90 {sc['p90']} s / p99 {sc['p99']} s, {sc['requests_per_caught']} requests per catch"))
st = json.load(open(f"{work}/store.json"))
rows.append(("8. History store: events written, one transaction each (WAL, synchronous=NORMAL)", "far above the event rate (tens per second)",
             f"{st['events_per_sec']:,.0f} events/s ({st['us_per_event']} us each, {st['events']:,} events: half new, half changed); prices {st['prices_per_sec']:,.0f}/s in batches of 100; {st['bytes']/1e6:.1f} MB"))
print(f"Machine: {os.cpu_count()} cores, {platform.machine()}, {platform.platform()}; " +
      subprocess.run(['rustc', '--version'], capture_output=True, text=True).stdout.strip())
print()
print("| Benchmark | Target | Measured |")
print("|---|---|---|")
for r in rows: print("| " + " | ".join(r) + " |")
print()
print("Simulator alone, h2load -c1 -m100 on market pages: " + f"{h2rps:,.0f} req/s")
PY

# Rows 4a and 9 (their own lines: three alternations and six limiter runs).
net_table
# Row 10 (its own lines: three runs and the snapshot).
cross_table
