"""Runs a command and writes its CPU time (user + system, microsecond resolution from
getrusage, which /usr/bin/time -v rounds to 10 ms), peak RSS and wall time as JSON.

usage: python3 bench/rusage.py OUT.json COMMAND [ARGS...]
"""
import json
import resource
import subprocess
import sys
import time

out, cmd = sys.argv[1], sys.argv[2:]
before = resource.getrusage(resource.RUSAGE_CHILDREN)
start = time.monotonic()
code = subprocess.call(cmd)
wall = time.monotonic() - start
after = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(out, "w") as f:
    json.dump({
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "user_s": after.ru_utime - before.ru_utime,
        "sys_s": after.ru_stime - before.ru_stime,
        "maxrss_kb": after.ru_maxrss,
        "wall_s": wall,
    }, f)
sys.exit(code)
