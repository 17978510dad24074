"""The embedding service: the one process that holds the sentence model, so web and worker processes stay
small (no torch). Plain HTTP on loopback, one request per call: POST /embed {"texts": [...]} answers
{"vectors": [[...], ...]} (the vectors ``core.embeddings.embed_here`` gives, unit length); GET /healthz
answers ok. Started by bin/serve (``manage.py embedding_server``); docs/operations.md, "Scale-out"."""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from core import embeddings

logger = logging.getLogger("luna.embeddings")
MAX_BODY_BYTES = 1_000_000  # a turn sends one short moment; a chapter import a few hundred texts


class EmbeddingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the web processes' clients reuse their connections

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._answer(200, b"ok", "text/plain")
        else:
            self._answer(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        if self.path != "/embed":
            return self._answer(404, b"not found", "text/plain")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return self._answer(413, b"too large", "text/plain")
        try:
            texts = json.loads(self.rfile.read(length))["texts"]
            if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
                raise ValueError("texts must be a list of strings")
        except (ValueError, KeyError, TypeError) as error:
            return self._answer(400, str(error).encode(), "text/plain")
        try:
            vectors = embeddings.embed_here(texts) if texts else []
        except Exception:  # the caller's turn fails with its action kept; the service goes on
            logger.exception("embedding %d texts failed", len(texts))
            return self._answer(500, b"embedding failed", "text/plain")
        self._answer(200, json.dumps({"vectors": vectors}).encode(), "application/json")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's name): requests are not logged
        pass


def embedding_server(host: str, port: int) -> ThreadingHTTPServer:
    """The service bound to host:port (port 0: a free one), its model loaded; serve with ``serve_forever``."""
    embeddings.embed_here(["warm up"])  # loaded before it listens, so the first turn does not wait for it
    server = ThreadingHTTPServer((host, port), EmbeddingHandler)
    server.daemon_threads = True
    return server
