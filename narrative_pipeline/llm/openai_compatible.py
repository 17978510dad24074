"""Any OpenAI-compatible chat-completions server: Ollama, vLLM, llama.cpp server, LM Studio,
OpenRouter, OpenAI. Timeouts, retries with backoff on 429/5xx and dropped connections,
streaming (server-sent events), and token usage from the response.

What the server says when it fails is for the operator: logged (``luna.llm``) with anything that looks
like a key or a token redacted. Players see a plain message with no upstream text (an error body has
been seen quoting part of an API key), nor the server's address.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Iterator

import httpx
from django.conf import settings
from django.core.cache import cache

from . import Completion, LLMError, LLMRequest, approximate_tokens
from .reasoning import ReasoningFilter

logger = logging.getLogger("luna.llm")

RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}
# How much of an error body reaches the log.
LOGGED_BODY_CHARS = 2000
REDACTED = "[redacted]"
# How long a server's refusal of an option is remembered; servers are upgraded now and then.
REFUSED_OPTION_SECONDS = 24 * 3600
# What looks like a secret in an upstream message: an Authorization value, an API key or a masked piece of
# one (sk-live-abc1****wxyz), a key=value or "key": "value" pair, a password in a URL, a long random token.
SECRET_PATTERNS = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=*-]+"), rf"\1 {REDACTED}"),
    (re.compile(r"(?i)\b(?:sk|pk|rk|ak|key)[-_][\w*-]{3,}(?:\.[\w*-]+)*"), REDACTED),
    (re.compile(r"(?i)(\b(?:api[_-]?key|access[_-]?token|token|secret|password|authorization)\b[\"']?\s*[:=]\s*[\"']?)"
                r"[^\s\"',}]+"), rf"\1{REDACTED}"),
    (re.compile(r"(//)[^/@\s]+@"), rf"\1{REDACTED}@"),
    (re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{24,}"), REDACTED),
]


def redact(text: str, *, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with the given secrets, and anything that looks like a key or token, replaced."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def player_message(problem: str) -> str:
    return f"The story model's server {problem}. The operator has been told; try again later."


class OpenAICompatibleProvider:
    name = "openai"

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 timeout: float | None = None, max_retries: int | None = None, backoff: float | None = None):
        self.model = model
        self.base_url = (base_url or settings.LLM_BASE_URL).rstrip("/")
        self.api_key = settings.LLM_API_KEY if api_key is None else api_key
        self.timeout = settings.LLM_TIMEOUT_SECONDS if timeout is None else timeout
        self.max_retries = settings.LLM_MAX_RETRIES if max_retries is None else max_retries
        self.backoff = settings.LLM_RETRY_BACKOFF_SECONDS if backoff is None else backoff

    def _body(self, request: LLMRequest, *, stream: bool) -> dict:
        body = {"model": self.model, "messages": request.messages, "max_tokens": request.max_tokens,
                "temperature": request.temperature, "stream": stream}
        if stream:
            body["stream_options"] = {"include_usage": True}
        if request.json_mode:
            body["response_format"] = {"type": "json_object"}
        return body

    def _client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=httpx.Timeout(self.timeout))

    def _with_retries(self, attempt_once):
        """Run ``attempt_once`` until it succeeds, retrying what a retry can fix."""
        problem = "was not asked"
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return attempt_once()
            except httpx.TimeoutException:
                problem = f"did not answer within {self.timeout:g} s"
                self._log("did not answer within %g s", self.timeout)
            except httpx.TransportError as error:
                problem = "could not be reached"
                self._log("could not be reached: %s", redact(str(error), secrets=(self.api_key,)))
            except _Retryable as retryable:
                problem = f"answered with an error (HTTP {retryable.status})"
        raise LLMError(player_message(problem + (f", {attempts} times" if attempts > 1 else "")))

    def _log(self, what: str, *args) -> None:
        logger.warning("LLM server %s (model %s) " + what, redact(self.base_url), self.model, *args)

    def _check(self, response: httpx.Response) -> None:
        """Log a failed answer for the operator and raise what a player may read."""
        if response.status_code < 400:
            return
        self._log("answered HTTP %s: %s", response.status_code,
                  redact(response.text[:LOGGED_BODY_CHARS], secrets=(self.api_key,)))
        if response.status_code in RETRY_STATUSES:
            raise _Retryable(response.status_code)
        raise LLMError(player_message(f"answered with an error (HTTP {response.status_code})"))

    def complete(self, request: LLMRequest) -> Completion:
        def once() -> Completion:
            with self._client() as client:
                response = client.post("/chat/completions", json=self._body(request, stream=False))
                self._check(response)
                try:
                    data = response.json()
                    text = data["choices"][0]["message"]["content"] or ""
                except (ValueError, KeyError, IndexError, TypeError) as error:
                    self._log("answered with something that is not a chat completion: %s",
                              redact(response.text[:LOGGED_BODY_CHARS], secrets=(self.api_key,)))
                    raise LLMError("The LLM server answered with something that is not a chat completion.") from error
            if not text.strip():
                raise LLMError("The LLM server returned an empty completion.")
            usage = data.get("usage") or {}
            return Completion(
                text=text,
                prompt_tokens=int(usage.get("prompt_tokens") or _prompt_tokens(request)),
                completion_tokens=int(usage.get("completion_tokens") or approximate_tokens(text)),
                provider=self.name, model=data.get("model") or self.model,
            )

        return self._with_retries(once)

    def stream(self, request: LLMRequest) -> Iterator[str | Completion]:
        client = self._client()
        body = self._body(request, stream=True)
        if cache.get(self._refused_key("stream_options")):
            del body["stream_options"]
        try:
            # Retries are only possible before the first piece reaches the reader.
            response = self._with_retries(lambda: self._open_stream(client, body))
            pieces, cleaned, usage, model = [], ReasoningFilter(), {}, self.model
            try:
                # Servers differ: CRLF or LF, "data:" with or without a space, ": ping" keep-alive comments,
                # a last chunk with usage and no choices, deltas that are empty, null, or reasoning only.
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        event = json.loads(data)
                    except ValueError as error:
                        raise LLMError("The LLM server sent a stream event that is not JSON.") from error
                    usage = event.get("usage") or usage
                    model = event.get("model") or model
                    for choice in event.get("choices") or []:
                        delta = choice.get("delta") or {}
                        # DeepSeek and vLLM send reasoning_content, OpenRouter reasoning; some send both.
                        cleaned.reasoning_parts.append(delta.get("reasoning_content") or delta.get("reasoning") or "")
                        piece = cleaned.feed(delta.get("content") or "")
                        if piece:
                            pieces.append(piece)
                            yield piece
                piece = cleaned.finish()
                if piece:
                    pieces.append(piece)
                    yield piece
            except httpx.TimeoutException as error:
                raise LLMError(f"The LLM server stopped sending for {self.timeout:g} s mid-passage.") from error
            except httpx.TransportError as error:
                raise LLMError("The connection to the LLM server broke mid-passage.") from error
            finally:
                response.close()
            text = "".join(pieces)
            if not text.strip():
                raise LLMError("The LLM server returned an empty completion.")
            yield Completion(
                text=text,
                prompt_tokens=int(usage.get("prompt_tokens") or _prompt_tokens(request)),
                completion_tokens=int(usage.get("completion_tokens") or approximate_tokens(text)),
                provider=self.name, model=model, reasoning=cleaned.reasoning,
            )
        finally:
            client.close()

    def _refused_key(self, option: str) -> str:
        return "llm-refuses:" + hashlib.sha256(f"{option} {self.base_url} {self.model}".encode()).hexdigest()

    def _open_stream(self, client: httpx.Client, body: dict) -> httpx.Response:
        response = self._send_stream(client, body)
        if response.status_code == 400 and "stream_options" in body:
            # Some servers refuse stream_options: ask again at once without it (usage is then estimated),
            # and remember for this server and model so the next turn does not pay for the refusal.
            self._log("refused stream_options (HTTP 400); streaming without it")
            del body["stream_options"]
            response = self._send_stream(client, body)
            if response.status_code < 400:
                cache.set(self._refused_key("stream_options"), True, REFUSED_OPTION_SECONDS)
        self._check(response)
        return response

    def _send_stream(self, client: httpx.Client, body: dict) -> httpx.Response:
        response = client.send(client.build_request("POST", "/chat/completions", json=body), stream=True)
        if response.status_code >= 400:
            response.read()
            response.close()
        return response


class _Retryable(Exception):
    def __init__(self, status: int):
        super().__init__(f"HTTP {status}")
        self.status = status


def _prompt_tokens(request: LLMRequest) -> int:
    return approximate_tokens("\n".join(str(message.get("content", "")) for message in request.messages))
