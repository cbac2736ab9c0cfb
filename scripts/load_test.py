#!/usr/bin/env python3
"""Load test for `bert serve` on 127.0.0.1 only (stdlib: threads + http.client).

Starts `bert serve --port 0` on a model folder (or uses --url of a server already running on
loopback), sends --requests /embed requests of mixed lengths from --clients threads, checks every
response against `bert embed` for the same text (cosine >= --min-cosine), and prints p50/p99
latency and throughput as one JSON line. Bounded: at most --requests requests and --max-seconds.

    python3 scripts/load_test.py --model .cache/models/all-MiniLM-L6-v2 --requests 5000 --clients 32
    python3 scripts/load_test.py ... --serve-args="--max-batch-requests 1"     # batching off
    python3 scripts/load_test.py --url http://127.0.0.1:8081                  # another server (st_server.py)

The reference vectors (`bert embed` on every distinct text) take longer than the load itself:
--reference FILE computes them once and reuses them, so that a timed run (in a quiet window,
nothing else running) covers only the load. --warmup requests run before the clock starts.
"""
import argparse, http.client, json, math, os, random, re, subprocess, sys, threading, time
from urllib.parse import urlparse

WORDS = ("the quick brown fox jumps over a lazy dog while markets rally on news of strong earnings "
         "and the committee said it would review the proposal before the end of the year").split()


def texts(count, seed):
    rng = random.Random(seed)
    # Mixed lengths: mostly short queries, some paragraphs (5 to 200 words).
    out = []
    for _ in range(count):
        n = rng.choice([5, 8, 12, 16, 24, 32, 48, 64, 96, 128, 200])
        out.append(" ".join(rng.choice(WORDS) for _ in range(n)))
    return out


def start_server(bert, model, extra):
    args = [bert, "serve", "--model", model, "--host", "127.0.0.1", "--port", "0"] + extra
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, int(m.group(1))
    proc.kill()
    sys.exit("bert serve did not start")


def reference(bert, model, unique, cache):
    if cache and os.path.exists(cache):
        with open(cache) as f:
            stored = json.load(f)
        if all(t in stored for t in unique):
            return stored
    out = subprocess.run([bert, "embed", "--model", model], input="\n".join(unique) + "\n",
                         capture_output=True, text=True, check=True).stdout
    vectors = {t: json.loads(l)["embedding"] for t, l in zip(unique, out.splitlines())}
    if cache:
        with open(cache, "w") as f:
            json.dump(vectors, f)
    return vectors


def batch_sizes(port):
    """(sequences, forward passes) so far from bert serve's /metrics (None for another server)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        total = float(re.search(r"^bert_batch_size_sum(?:\{[^}]*\})? (\S+)", text, re.M).group(1))
        count = float(re.search(r"^bert_batch_size_count(?:\{[^}]*\})? (\S+)", text, re.M).group(1))
        return total, count
    except Exception:
        return None


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / max(math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)), 1e-12)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=".cache/models/all-MiniLM-L6-v2")
    p.add_argument("--bert", default=".build/release/bert")
    p.add_argument("--url", help="a server already running on 127.0.0.1")
    p.add_argument("--serve-args", default="", help="extra bert serve flags")
    p.add_argument("--requests", type=int, default=5000)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--max-seconds", type=float, default=170)
    p.add_argument("--min-cosine", type=float, default=0.99999)
    p.add_argument("--no-verify", action="store_true")
    p.add_argument("--label", default="bert serve")
    p.add_argument("--reference", help="JSON file caching bert embed's vectors of the texts")
    p.add_argument("--warmup", type=int, default=64, help="requests sent before timing (not counted)")
    p.add_argument("--only-reference", action="store_true", help="compute --reference and exit")
    a = p.parse_args()

    pool = texts(a.requests, seed=1)
    unique = sorted(set(pool))
    want = None if a.no_verify else reference(a.bert, a.model, unique, a.reference)
    if a.only_reference:
        return
    proc = None
    if a.url:
        u = urlparse(a.url)
        if u.hostname not in ("127.0.0.1", "localhost"):
            sys.exit("loopback only")
        port = u.port
    else:
        proc, port = start_server(a.bert, a.model, a.serve_args.split())
    # Warm-up (first workspaces, page faults), from the same mix of texts, not timed.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for text in texts(a.warmup, seed=2):
        conn.request("POST", "/embed", json.dumps({"inputs": text}), {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            sys.exit(f"warm-up request answered {r.status}")
    conn.close()

    lock = threading.Lock()
    latencies, errors, bad = [], [], []
    next_index = [0]
    stop_at = time.time() + a.max_seconds

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= len(pool) or time.time() > stop_at:
                return
            body = json.dumps({"inputs": pool[i]})
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/embed", body, {"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
                dt = time.perf_counter() - t0
                if r.status != 200:
                    with lock: errors.append(f"{r.status} {data[:200]!r}")
                    continue
                vec = json.loads(data)[0]
                with lock: latencies.append(dt)
                if want is not None and cosine(vec, want[pool[i]]) < a.min_cosine:
                    with lock: bad.append(pool[i][:40])
            except Exception as e:  # a dropped connection is an error, reconnect
                with lock: errors.append(repr(e))
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    before = batch_sizes(port)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(a.clients)]
    for t in threads: t.start()
    for t in threads: t.join()
    wall = time.perf_counter() - t0
    after = batch_sizes(port)
    mean_batch = None
    if before and after and after[1] > before[1]:
        mean_batch = round((after[0] - before[0]) / (after[1] - before[1]), 2)
    if proc:
        proc.terminate()
        proc.wait(30)
    latencies.sort()
    q = lambda f: round(latencies[min(len(latencies) - 1, int(f * len(latencies)))] * 1000, 1) if latencies else None
    print(json.dumps({"label": a.label, "requests": len(latencies) + len(errors), "ok": len(latencies),
                      "errors": len(errors), "mismatches": len(bad), "clients": a.clients,
                      "seconds": round(wall, 2), "throughput_rps": round(len(latencies) / wall, 1),
                      "p50_ms": q(0.50), "p99_ms": q(0.99), "serve_args": a.serve_args,
                      "mean_batch": mean_batch,
                      "first_errors": errors[:3]}))
    sys.exit(1 if errors or bad else 0)


if __name__ == "__main__":
    main()
