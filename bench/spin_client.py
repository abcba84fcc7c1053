"""spin_client.py PORT NSPINS SPIN_MS — the client side of bench/spin.sh.

Starts NSPINS concurrent GET /spin?ms=SPIN_MS, waits 100 ms (past the
first 10 ms slice), then sends GET /about one after another, each on a new
connection as a browser's first request would, until the first spin
answers. Only the /about requests that completed while every spin was
still running count. Prints one line:
    n=N p50=.. p90=.. p99=.. max=.. (milliseconds)
"""
import http.client
import sys
import threading
import time

port, nspins, spin_ms = (int(a) for a in sys.argv[1:4])
done = threading.Event()


def get(path, timeout=120):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def spin():
    try:
        get("/spin?ms=%d" % spin_ms)
    finally:
        done.set()


spins = [threading.Thread(target=spin) for _ in range(nspins)]
for t in spins:
    t.start()
time.sleep(0.1)
lat = []
while not done.is_set():
    t0 = time.monotonic()
    status = get("/about")
    took = (time.monotonic() - t0) * 1000
    if done.is_set():
        break  # the spin ended meanwhile: not a measurement during it
    assert status == 200, status
    lat.append(took)
for t in spins:
    t.join()
lat.sort()


def pct(p):
    return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else float("nan")


print("n=%d p50=%.2f p90=%.2f p99=%.2f max=%.2f" %
      (len(lat), pct(50), pct(90), pct(99), lat[-1] if lat else float("nan")))
