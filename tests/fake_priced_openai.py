"""An OpenAI-compatible server that answers every request by its kind, for many turns at once: a plan to a
JSON request, a streamed passage to a streamed one. It bills the worst case a budget must cover: every
call's usage is its prompt's characters / 4 and all of its ``max_tokens`` (tests/narrative_pipeline/
test_budgets.py, bench/budgets.py)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PLAN = {"beats": [{"description": "The lamp gutters", "priority": "high"}], "tone": "tense", "pacing": "brisk",
        "target_length": 120}
PASSAGE = ["The lamp ", "gutters, ", "and the dark leans in."]


class PricedOpenAI:
    def __init__(self):
        self.calls = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.calls += 1
                prompt = sum(len(str(message.get("content", ""))) for message in body["messages"])
                usage = {"prompt_tokens": prompt // 4, "completion_tokens": body.get("max_tokens") or 800}
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for piece in PASSAGE:
                        event = {"model": body["model"], "choices": [{"index": 0, "delta": {"content": piece}}]}
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.write(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                    return
                payload = json.dumps({"id": "x", "model": body["model"], "usage": usage, "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": json.dumps(PLAN)}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
