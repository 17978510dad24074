"""A small OpenAI-compatible server on 127.0.0.1 for provider tests: real HTTP, real streaming,
real status codes. Each request takes the next scripted reply."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def ok(text: str, prompt_tokens: int = 11, completion_tokens: int = 7) -> dict:
    return {"kind": "ok", "text": text, "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}}


def stream(pieces: list[str], prompt_tokens: int = 11, completion_tokens: int = 7, pause: float = 0.0) -> dict:
    return {"kind": "stream", "pieces": pieces, "pause": pause,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}}


def sse(events: list[dict | str], *, newline: str = "\n", prefix: str = "data: ") -> dict:
    """A stream written as given, for servers' quirks: a dict is one data event (see ``chunk``), a str a raw
    line (a ``: ping`` keep-alive comment); ``newline`` "\\r\\n" for CRLF, ``prefix`` "data:" for no space."""
    return {"kind": "sse", "events": events, "newline": newline, "prefix": prefix}


def chunk(delta: dict | None = None, *, usage: dict | None = None, choices: bool = True) -> dict:
    """One chat.completion.chunk: a delta (``None`` as a null delta), or with ``choices=False`` the
    usage-only last chunk (``"choices": []``)."""
    event: dict = {"object": "chat.completion.chunk",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": None}] if choices else []}
    if usage is not None:
        event["usage"] = usage
    return event


def status(code: int) -> dict:
    return {"kind": "status", "code": code}


def error(code: int, body: dict) -> dict:
    """An error answer with the given JSON body, as a real server words it."""
    return {"kind": "error", "code": code, "body": body}


def hang(seconds: float) -> dict:
    return {"kind": "hang", "seconds": seconds}


BAD_JSON = {"kind": "raw", "body": b"<html>gateway</html>"}
EMPTY = {"kind": "ok", "text": "", "usage": {}}


class FakeOpenAI:
    def __init__(self):
        self.replies: deque = deque()
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                reply = server.replies.popleft() if server.replies else status(500)
                getattr(self, f"reply_{reply['kind']}")(reply, body)

            def send_json(self, code, data):
                payload = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def reply_ok(self, reply, body):
                self.send_json(200, {"id": "x", "model": body["model"], "usage": reply["usage"],
                                     "choices": [{"index": 0, "message": {"role": "assistant", "content": reply["text"]}}]})

            def reply_status(self, reply, body):
                self.send_json(reply["code"], {"error": {"message": f"status {reply['code']}"}})

            def reply_error(self, reply, body):
                self.send_json(reply["code"], reply["body"])

            def reply_raw(self, reply, body):
                self.send_response(200)
                self.send_header("Content-Length", str(len(reply["body"])))
                self.end_headers()
                self.wfile.write(reply["body"])

            def reply_hang(self, reply, body):
                time.sleep(reply["seconds"])
                self.send_json(200, {"choices": [{"message": {"content": "too late"}}]})

            def reply_stream(self, reply, body):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for piece in reply["pieces"]:
                    event = {"model": body["model"], "choices": [{"index": 0, "delta": {"content": piece}}]}
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(reply["pause"])
                self.wfile.write(f"data: {json.dumps({'choices': [], 'usage': reply['usage']})}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

            def reply_sse(self, reply, body):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                end = reply["newline"]
                for event in reply["events"]:
                    line = event if isinstance(event, str) else reply["prefix"] + json.dumps({"model": body["model"],
                                                                                            **event})
                    self.wfile.write(f"{line}{end}{end}".encode())
                    self.wfile.flush()
                self.wfile.write(f"{reply['prefix']}[DONE]{end}{end}".encode())

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

    def script(self, *replies: dict) -> None:
        self.replies.extend(replies)
