"""A plain newest-first poller, as a fast bot of this trade would write it (httpx, one HTTP/2
connection, signed like skinscan): poll each game's newest page in turn at RATE polls/s,
price unseen titles with aggregated prices, report a listing when selling into the best
order after a 7% fee beats its price. Writes one JSON line per detection.

usage: python bench/watch_peer.py URL PUBLIC_HEX SECRET_HEX RATE SECONDS OUT
"""
import json, sys, time, urllib.parse
import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

url, pub, sec, rate, seconds, out = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(sec[:64]))
games = ["a8db", "9a92", "rust", "tf2"]

def signed(method, path, query, body=""):
    date = str(int(time.time()))
    msg = method + path + ("?" + query if query else "") + body + date
    return {"X-Api-Key": pub, "X-Sign-Date": date,
            "X-Request-Sign": "dmar ed25519 " + key.sign(msg.encode()).hex()}

seen, prices, found = set(), {}, open(out, "w")
with httpx.Client(base_url=url, http1=False, http2=True) as c:
    end, i = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        t0 = time.monotonic()
        game = games[i % len(games)]; i += 1
        q = urllib.parse.urlencode({"gameId": game, "limit": 100, "orderBy": "createdAt", "orderDir": "desc"})
        r = c.get("/marketplace-api/v2/offers?" + q, headers=signed("GET", "/marketplace-api/v2/offers", q))
        if r.status_code == 200:
            fresh = [o for o in r.json()["items"] if o["offerId"] not in seen]
            seen.update(o["offerId"] for o in fresh)
            titles = sorted({o["attributes"]["title"] for o in fresh} - set(prices))
            if titles:
                body = json.dumps({"filter": {"game": game, "titles": titles[:100]}, "limit": "100", "cursor": ""})
                p = c.post("/marketplace-api/v1/aggregated-prices", content=body,
                           headers={**signed("POST", "/marketplace-api/v1/aggregated-prices", "", body), "Content-Type": "application/json"})
                if p.status_code == 200:
                    for e in p.json()["aggregatedPrices"]:
                        prices[e["title"]] = int(e["orderBestPrice"]["Amount"])
            for o in fresh:
                order = prices.get(o["attributes"]["title"], 0)
                if order - (order * 7 + 99) // 100 > int(o["priceCents"]):
                    found.write(json.dumps({"event": "new", "offer_id": o["offerId"], "detected": time.time()}) + "\n")
        time.sleep(max(0.0, 1.0 / rate - (time.monotonic() - t0)))
