"""A small OpenAI-compatible server on 127.0.0.1 for provider tests: real HTTP, real streaming,
real status codes. Each request takes the next scripted reply; ``refuses`` makes it answer HTTP 400 to
options it does not know, as some real servers do, without taking a reply."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def ok(text: str, prompt_tokens: int = 11, completion_tokens: int = 7, reasoning: str | None = None,
       usage: dict | None = None, extra: dict | None = None) -> dict:
    """A chat completion; ``reasoning`` comes as ``reasoning_content`` beside the content (vLLM, DeepSeek);
    ``usage`` adds to the usage object (``prompt_tokens_details``), ``extra`` to the response (llama.cpp's
    ``timings``)."""
    return {"kind": "ok", "text": text, "reasoning": reasoning, "extra": extra or {},
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, **(usage or {})}}


def stream(pieces: list[str], prompt_tokens: int = 11, completion_tokens: int = 7, pause: float = 0.0,
           release: threading.Event | None = None) -> dict:
    """With ``release``, the stream stops after its first piece until the event is set (at most 60 s)."""
    return {"kind": "stream", "pieces": pieces, "pause": pause, "release": release,
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


def status(code: int, retry_after: str | None = None) -> dict:
    return {"kind": "status", "code": code, "retry_after": retry_after}


def error(code: int, body: dict) -> dict:
    """An error answer with the given JSON body, as a real server words it."""
    return {"kind": "error", "code": code, "body": body}


def hang(seconds: float) -> dict:
    return {"kind": "hang", "seconds": seconds}


def held(text: str, release: threading.Event) -> dict:
    """``ok(text)``, answered only once ``release`` is set (at most 60 s): a call caught mid-way."""
    return {**ok(text), "kind": "held", "release": release}


BAD_JSON = {"kind": "raw", "body": b"<html>gateway</html>"}
EMPTY = {"kind": "ok", "text": "", "usage": {}}

# Plans as real models were seen to write them: each reads as QUIRKY_PLAN without a repair call.
QUIRKY_PLAN = {"beats": [{"beat": "The lighthouse goes dark", "priority": "high"},
                         {"beat": "Hale reaches for the rope", "priority": "medium"}],
               "tone": "uneasy", "pacing": "brisk", "target_length": 160}
QUIRKY_PLANS = {
    "reasoning_block_with_a_draft": (
        '<think>The player asks about the ship. A draft: {"beats": [{"description": "draft only"}]} — no, '
        'darker.</think>\n{"beats": [{"description": "The lighthouse goes dark", "priority": "high"}, '
        '{"description": "Hale reaches for the rope", "priority": "medium"}], "tone": "uneasy", "pacing": "brisk", '
        '"target_length": 160}'),
    "unclosed_opening_tag_dropped_by_the_template": (
        'Okay, the user wants a plan {maybe}. Let me think.</think>{"beats": [{"description": '
        '"The lighthouse goes dark", "priority": "high"}, {"description": "Hale reaches for the rope"}], '
        '"tone": "uneasy", "pacing": "brisk", "target_length": 160}'),
    "cut_off_while_still_thinking": (
        '<think>The player asks about the ship. The plan: {"beats": [{"description": "The lighthouse goes dark", '
        '"priority": "high"}, {"description": "Hale reaches for the rope", "priority": "medium"}], "tone": "uneasy", '
        '"pacing": "brisk", "target_length": 160} — that should work, but first let me'),
    "capitalised_enums_and_synonyms": (
        '{"beats": [{"description": "The lighthouse goes dark", "priority": "Critical"}, '
        '{"description": "Hale reaches for the rope", "priority": "Normal"}], "tone": "uneasy", "pacing": "Fast", '
        '"target_length": 160}'),
    "beats_as_strings": (
        '{"beats": ["The lighthouse goes dark", "Hale reaches for the rope"], "tone": "uneasy", '
        '"pacing": "brisk", "target_length": 160}'),
    "trailing_commas": (
        '{"beats": [{"description": "The lighthouse goes dark", "priority": "high",}, '
        '{"description": "Hale reaches for the rope", "priority": "medium"},], "tone": "uneasy", "pacing": "brisk", '
        '"target_length": 160,}'),
    "number_in_words": (
        '{"beats": [{"description": "The lighthouse goes dark", "priority": "high"}, '
        '{"description": "Hale reaches for the rope", "priority": "medium"}], "tone": "uneasy", "pacing": "brisk", '
        '"target_length": "about 160 words"}'),
    "object_then_prose_with_braces": (
        '{"beats": [{"description": "The lighthouse goes dark", "priority": "high"}, '
        '{"description": "Hale reaches for the rope", "priority": "medium"}], "tone": "uneasy", "pacing": "brisk", '
        '"target_length": 160}\nI kept the {tone} uneasy; swap {pacing} if you like.'),
    "code_fence_and_prose": (
        'Here is the plan:\n```json\n{"beats": [{"description": "The lighthouse goes dark", "priority": "high"}, '
        '{"description": "Hale reaches for the rope", "priority": "medium"}], "tone": "uneasy", "pacing": "brisk", '
        '"target_length": 160}\n```\nLet me know if you want changes.'),
    "single_quotes_and_unknown_keys": (
        "{'beats': [{'Description': 'The lighthouse goes dark', 'Priority': 'HIGH'}, "
        "{'description': 'Hale reaches for the rope'}], 'tone': 'uneasy', 'pacing': 'brisk', 'target_length': '160', "
        "'mood_board': None, 'confidence': 0.9}"),
}


class FakeOpenAI:
    def __init__(self):
        self.replies: deque = deque()
        self.requests: list[dict] = []
        # Options answered with HTTP 400: "response_format" (any), "json_schema" (that type only), "stream_options",
        # "cache_prompt" (llama.cpp's field, which OpenAI refuses as an unknown argument).
        self.refuses: set[str] = set()
        # What GET /models answers: these model ids, or a reply such as ``status(401)``.
        self.models: list[str] | dict = ["fake-model"]
        # With no reply scripted, the reply made for the request's body (a server that answers every request by its
        # kind, for many turns at once); without it, HTTP 500.
        self.answer: Callable[[dict], dict] | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append({"path": self.path, "auth": self.headers.get("Authorization")})
                if self.path.rstrip("/").endswith("/models") and isinstance(server.models, list):
                    self.send_json(200, {"object": "list", "data": [{"id": name, "object": "model"}
                                                                     for name in server.models]})
                elif isinstance(server.models, dict):
                    getattr(self, f"reply_{server.models['kind']}")(server.models, {})
                else:
                    self.send_json(404, {"error": {"message": "not found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                refused = server.refused_option(body)
                if refused:
                    self.send_json(400, {"error": {"message": f"Unrecognized request argument supplied: {refused}",
                                                   "type": "invalid_request_error"}})
                    return
                reply = server.replies.popleft() if server.replies else (
                    server.answer(body) if server.answer else status(500))
                getattr(self, f"reply_{reply['kind']}")(reply, body)

            def send_json(self, code, data, headers=None):
                payload = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def reply_ok(self, reply, body):
                message = {"role": "assistant", "content": reply["text"]}
                if reply.get("reasoning"):
                    message["reasoning_content"] = reply["reasoning"]
                self.send_json(200, {"id": "x", "model": body["model"], "usage": reply["usage"],
                                     "choices": [{"index": 0, "message": message}], **reply.get("extra", {})})

            def reply_status(self, reply, body):
                headers = {"Retry-After": reply["retry_after"]} if reply.get("retry_after") is not None else {}
                self.send_json(reply["code"], {"error": {"message": f"status {reply['code']}"}}, headers)

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

            def reply_held(self, reply, body):
                reply["release"].wait(60)
                self.reply_ok(reply, body)

            def reply_stream(self, reply, body):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for index, piece in enumerate(reply["pieces"]):
                    event = {"model": body["model"], "choices": [{"index": 0, "delta": {"content": piece}}]}
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                    if index == 0 and reply.get("release"):
                        reply["release"].wait(timeout=60)
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

    def refused_option(self, body: dict) -> str | None:
        response_format = (body.get("response_format") or {}).get("type")
        if response_format and ("response_format" in self.refuses or response_format in self.refuses):
            return "response_format"
        if "cache_prompt" in body and "cache_prompt" in self.refuses:
            return "cache_prompt"
        return "stream_options" if "stream_options" in body and "stream_options" in self.refuses else None
