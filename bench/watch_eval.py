"""Scores detections against the living simulator's ground truth.

usage: python bench/watch_eval.py TRUTH.json EVENTS.jsonl FORMAT START END REQUESTS
FORMAT: watch (skinscan watch --jsonl), cycle (skinscan scan --jsonl) or peer (watch_peer.py).
Counts the underpriced listings of the four games, priced from $0.50 (the default band),
created in [START, END] (unix seconds); prints one JSON
object: listed, caught (reported before a competitor bought it), capture, delay p50/p90/p99
in seconds from createdAt, requests per caught opportunity.
"""
import json, sys, datetime

truth_path, events_path, fmt, start, end, requests = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
# The four scanned games (the simulator also lists the template's `pubg`), and listings in
# the default buy band (from $0.50): what every scanner here was asked to find.
GAMES = {"a8db", "9a92", "rust", "tf2"}
truth = [t for t in json.load(open(truth_path))["underpriced"]
         if start <= t["created"] <= end and t["game"] in GAMES and t["price_cents"] >= 50]

def when(line):
    if fmt == "peer":
        return line["detected"]
    stamp = line["detected_at"] if fmt == "watch" else line["time"]
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()

first = {}
for raw in open(events_path):
    line = json.loads(raw)
    if line.get("event", "new") != "new":
        continue
    oid = line.get("offer_id")
    if oid and oid not in first:
        first[oid] = when(line)
delays = sorted(first[t["offer_id"]] - t["created"] for t in truth
                if t["offer_id"] in first and first[t["offer_id"]] < t["gone"])
def pct(p):
    return round(delays[min(len(delays) - 1, int(len(delays) * p))], 3) if delays else None
caught = len(delays)
print(json.dumps({"listed": len(truth), "caught": caught,
                  "capture": round(caught / len(truth), 4) if truth else None,
                  "p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99),
                  "requests_per_caught": round(requests / caught, 1) if caught else None}))
