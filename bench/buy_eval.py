"""Scores buying against the living simulator's ground truth.

usage: python bench/buy_eval.py TRUTH.json BUYS.json START END BUDGET_CENTS
TRUTH.json: /__sim/truth (every underpriced listing; `bought_at` when our client bought it
before a competitor). BUYS.json: /__sim/buys (every purchase, what it cost). Counts the
underpriced listings of the four games priced from $0.50, created in [START, END]; prints
one JSON object: listed, bought (before a competitor), share, listing-to-purchase p50/p90 in
seconds, spent and profit booked in cents (of every purchase of the run), and whether the
budget held.
"""
import json, sys

truth_path, buys_path, start, end, budget = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
GAMES = {"a8db", "9a92", "rust", "tf2"}
truth = json.load(open(truth_path))["underpriced"]
buys = json.load(open(buys_path))
window = [t for t in truth if start <= t["created"] <= end and t["game"] in GAMES and t["price_cents"] >= 50]
won = sorted(t["bought_at"] - t["created"] for t in window if t.get("bought_at") and t["bought_at"] < t["gone"])
def pct(p):
    return round(won[min(len(won) - 1, int(len(won) * p))], 3) if won else None
by_offer = {t["offer_id"]: t for t in truth}
spent = sum(p["price_cents"] for p in buys["purchases"])
profit = sum(by_offer[p["offer_id"]]["profit_cents"] for p in buys["purchases"] if p["offer_id"] in by_offer)
offers = [p["offer_id"] for p in buys["purchases"]]
print(json.dumps({"listed": len(window), "bought": len(won),
                  "share": round(len(won) / len(window), 4) if window else None,
                  "p50": pct(0.5), "p90": pct(0.9),
                  "purchases": len(offers), "buy_requests": buys["requests"],
                  "bought_twice": len(offers) - len(set(offers)),
                  "spent_cents": spent, "profit_cents": profit,
                  "budget_cents": budget, "budget_held": spent <= budget}))
