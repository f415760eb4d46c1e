"""The seed's stack as a peer: httpx + asyncio, one HTTP/2 connection (prior knowledge, as
the simulator speaks h2c), `concurrency` requests in flight, the same path as loadgen.

usage: python bench/httpx_peer.py URL PATH REQUESTS CONCURRENCY
Prints one JSON object: requests, errors, seconds, rps.
"""
import asyncio
import json
import sys
import time

import httpx


async def main(url, path, total, concurrency):
    async with httpx.AsyncClient(base_url=url, http1=False, http2=True,
                                 limits=httpx.Limits(max_connections=1)) as client:
        await client.get(path)  # connect
        left = total
        errors = 0

        async def worker():
            nonlocal left, errors
            while left > 0:
                left -= 1
                r = await client.get(path)
                if r.status_code != 200:
                    errors += 1

        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.monotonic() - start
    print(json.dumps({"requests": total, "errors": errors, "seconds": seconds, "rps": total / seconds}))


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
