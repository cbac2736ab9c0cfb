#!/usr/bin/env python3
"""The usual Python deployment of a sentence-transformers model, for comparing with `bert serve`.

Python's stdlib ThreadingHTTPServer on 127.0.0.1 (a thread per connection, as a sync FastAPI
route runs in uvicorn's thread pool), each request calling `model.encode` on its own inputs
(normalized, as TEI's /embed default); no batching across requests. Speaks the /embed subset
scripts/load_test.py sends: {"inputs": str | [str]} -> [[float]].

    .venv-goldens/bin/python scripts/st_server.py --model .cache/models/all-MiniLM-L6-v2 --port 8091
"""
import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch
from sentence_transformers import SentenceTransformer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--port", type=int, default=8091)
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: PyTorch's default)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    model = SentenceTransformer(a.model, device="cpu")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.reply(200, {}) if self.path == "/health" else self.reply(404, {"error": "no such route"})

        def do_POST(self):
            if self.path != "/embed":
                return self.reply(404, {"error": "no such route"})
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                inputs = body["inputs"]
                texts = [inputs] if isinstance(inputs, str) else list(inputs)
            except (ValueError, KeyError, TypeError) as e:
                return self.reply(422, {"error": str(e)})
            with torch.inference_mode():
                vectors = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
            self.reply(200, vectors.tolist())

    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    print(f"listening on http://127.0.0.1:{server.server_address[1]} (torch threads {torch.get_num_threads()})",
          file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
