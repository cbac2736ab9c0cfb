#!/usr/bin/env python3
"""Soak test for `bert serve` on 127.0.0.1 (stdlib only): RSS over time under mixed requests.

Starts `bert serve --port 0` on a model folder, sends a mix of requests from --clients threads for
--seconds (/embed single and batched, /v1/embeddings base64, /similarity, /embed_all, /tokenize,
/decode, and bad bodies: malformed JSON, too long without truncate, empty batch, too many inputs),
samples the server's resident set size (VmRSS of /proc/PID/status) every --sample seconds, and
prints one JSON line: requests by status, RSS after warm-up, at the end, min/max after warm-up,
and the change from warm-up to the end in percent. Exit 1 on a 5xx, a dropped connection, or an
unexpected status.

    python3 scripts/soak_server.py --model .cache/models/all-MiniLM-L6-v2 --seconds 600 --clients 8
"""
import argparse, http.client, json, random, re, subprocess, sys, threading, time

WORDS = ("the quick brown fox jumps over a lazy dog while markets rally on news of strong earnings "
         "and the committee said it would review the proposal before the end of the year").split()


def text(rng, words=None):
    return " ".join(rng.choice(WORDS) for _ in range(words or rng.choice([3, 8, 20, 60, 150])))


def requests(rng):
    """(path, body, expected statuses) of one mixed request."""
    kind = rng.randrange(12)
    if kind < 3:
        return "/embed", {"inputs": text(rng)}, {200}
    if kind == 3:
        return "/embed", {"inputs": [text(rng) for _ in range(rng.randint(2, 16))]}, {200}
    if kind == 4:
        return "/v1/embeddings", {"input": [text(rng), text(rng)], "encoding_format": "base64"}, {200}
    if kind == 5:
        return "/similarity", {"inputs": {"source_sentence": text(rng), "sentences": [text(rng) for _ in range(4)]}}, {200}
    if kind == 6:
        return "/embed_all", {"inputs": text(rng, 10)}, {200}
    if kind == 7:
        return "/tokenize", {"inputs": [text(rng) for _ in range(4)]}, {200}
    if kind == 8:
        return "/decode", {"ids": [[101, 7592, 2088, 102]]}, {200}
    if kind == 9:
        return "/embed", "{\"inputs\": ", {400}
    if kind == 10:
        return "/embed", {"inputs": text(rng, 400)}, {422}
    return "/embed", {"inputs": ["a"] * 40}, {413}


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=".cache/models/all-MiniLM-L6-v2")
    p.add_argument("--bert", default=".build/release/bert")
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--warmup", type=float, default=30, help="seconds before the RSS baseline")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--sample", type=float, default=5)
    a = p.parse_args()

    proc = subprocess.Popen([a.bert, "serve", "--model", a.model, "--host", "127.0.0.1", "--port", "0"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    port = None
    for line in proc.stderr:
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    if port is None:
        sys.exit("bert serve did not start")
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()

    lock = threading.Lock()
    statuses, problems = {}, []
    start = time.time()
    stop_at = start + a.seconds

    def client(seed):
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while time.time() < stop_at:
            path, body, expected = requests(rng)
            data = body if isinstance(body, str) else json.dumps(body)
            try:
                conn.request("POST", path, data, {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                with lock:
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                    if r.status not in expected:
                        problems.append(f"{path} answered {r.status}, expected {sorted(expected)}")
            except Exception as e:
                with lock: problems.append(f"{path}: {e!r}")
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
    for t in threads: t.start()
    samples = []
    while time.time() < stop_at:
        samples.append((round(time.time() - start, 1), rss_kib(proc.pid)))
        time.sleep(a.sample)
    for t in threads: t.join()
    samples.append((round(time.time() - start, 1), rss_kib(proc.pid)))
    proc.terminate()
    code = proc.wait(60)

    steady = [kib for t, kib in samples if t >= a.warmup]
    base, end = steady[0], steady[-1]
    print(json.dumps({
        "seconds": a.seconds, "clients": a.clients, "requests": sum(statuses.values()),
        "statuses": {str(k): v for k, v in sorted(statuses.items())}, "problems": len(problems),
        "first_problems": problems[:3], "exit_code": code,
        "rss_mib_start": round(samples[0][1] / 1024, 1), "rss_mib_after_warmup": round(base / 1024, 1),
        "rss_mib_end": round(end / 1024, 1), "rss_mib_min": round(min(steady) / 1024, 1),
        "rss_mib_max": round(max(steady) / 1024, 1), "rss_change_pct": round(100 * (end - base) / base, 1),
        "samples_mib": [(t, round(kib / 1024, 1)) for t, kib in samples],
    }))
    sys.exit(1 if problems or code != 0 or any(s >= 500 for s in statuses) else 0)


if __name__ == "__main__":
    main()
