"""Any OpenAI-compatible chat-completions server: Ollama, vLLM, llama.cpp server, LM Studio,
OpenRouter, OpenAI. Timeouts, retries with backoff on 429/5xx and dropped connections (``Retry-After``
honoured, capped), streaming (server-sent events), and token usage from the response,
including the prompt tokens the server read from its cache (``prompt_tokens_details.cached_tokens`` from OpenAI,
vLLM and OpenRouter; ``timings.cache_n`` or ``tokens_cached`` from llama.cpp's server).

Options are asked for at their best and stepped down when a server refuses them: a request with a contract
asks for JSON Schema structured output, then a JSON object, then nothing; a streamed one asks for usage in the
stream (``stream_options``), and llama.cpp's server is asked to keep the prompt in its cache (``cache_prompt``;
OpenAI refuses unknown fields, so it is dropped there like any refused option). A server that answers HTTP 400 to an option is asked again at once without it,
and when that works the refusal is remembered per base URL and model (in the cache, for
``REFUSED_OPTIONS_SECONDS``) so later turns do not pay for it again.

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
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from functools import partial

import httpx
from django.conf import settings
from django.core.cache import cache

from . import Completion, LLMError, LLMRequest, approximate_tokens
from .reasoning import ReasoningFilter

logger = logging.getLogger("luna.llm")

RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}
RETRY_AFTER_STATUSES = {429, 503}
# A server asking for a longer pause is waited for this long at most: a player is waiting on the turn.
RETRY_AFTER_CAP_SECONDS = 10.0
REFUSED_OPTIONS_SECONDS = 6 * 3600  # a server upgraded meanwhile is asked again after this
# How much of an error body reaches the log.
LOGGED_BODY_CHARS = 2000
REDACTED = "[redacted]"
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

    def _body(self, request: LLMRequest, *, stream: bool, refused: set[str]) -> dict:
        """The request, with the best options this server has not refused."""
        body = {"model": self.model, "messages": request.messages, "max_tokens": request.max_tokens,
                "temperature": request.temperature, "stream": stream}
        if "cache_prompt" not in refused:
            body["cache_prompt"] = True
        if stream and "stream_options" not in refused:
            body["stream_options"] = {"include_usage": True}
        if request.contract is not None and "json_schema" not in refused:
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": request.contract.__name__, "schema": request.contract.model_json_schema(), "strict": False}}
        elif (request.json_mode or request.contract is not None) and "json_object" not in refused:
            body["response_format"] = {"type": "json_object"}
        return body

    def _refused_key(self) -> str:
        digest = hashlib.sha256(f"{self.base_url}\n{self.model}".encode()).hexdigest()[:32]
        return f"llm:refused-options:{digest}"

    def _send(self, request: LLMRequest, *, stream: bool, attempt: Callable[[dict], object]):
        """``attempt(body)`` with retries; an option the server refuses (HTTP 400) is dropped and the request
        sent again at once. A refusal is remembered only once the request without the option got through:
        a 400 for another reason (a prompt too long) must not turn options off for everyone."""
        remembered = set(cache.get(self._refused_key()) or ())
        refused = set(remembered)
        while True:
            body = self._body(request, stream=stream, refused=refused)
            try:
                result = self._with_retries(partial(attempt, body))
            except _Refused as refusal:
                option = _refused_option(body, refusal.text)
                if option is None:
                    raise LLMError(player_message("answered with an error (HTTP 400)")) from None
                refused.add(option)
                continue
            if refused != remembered:
                cache.set(self._refused_key(), sorted(refused), REFUSED_OPTIONS_SECONDS)
                self._log("refused %s; asked without, remembered", ", ".join(sorted(refused - remembered)))
            return result

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=httpx.Timeout(self.timeout))

    def _with_retries(self, attempt_once):
        """Run ``attempt_once`` until it succeeds, retrying what a retry can fix."""
        problem = "was not asked"
        attempts, pause = self.max_retries + 1, 0.0
        for attempt in range(attempts):
            if attempt:
                time.sleep(pause)
            pause = self.backoff * 2 ** attempt
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
                if retryable.retry_after is not None:
                    pause = min(retryable.retry_after, RETRY_AFTER_CAP_SECONDS)
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
            raise _Retryable(response.status_code, _retry_after(response)
                             if response.status_code in RETRY_AFTER_STATUSES else None)
        if response.status_code == 400:
            raise _Refused(response.text[:LOGGED_BODY_CHARS])
        raise LLMError(player_message(f"answered with an error (HTTP {response.status_code})"))

    def complete(self, request: LLMRequest) -> Completion:
        def once(body: dict) -> Completion:
            with self.client() as client:
                response = client.post("/chat/completions", json=body)
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
                provider=self.name, model=data.get("model") or self.model, cached_tokens=cached_tokens(data) or 0,
            )

        return self._send(request, stream=False, attempt=once)

    def stream(self, request: LLMRequest) -> Iterator[str | Completion]:
        client = self.client()
        try:
            # Retries are only possible before the first piece reaches the reader.
            response = self._send(request, stream=True, attempt=lambda body: self._open_stream(client, body))
            pieces, cleaned, usage, model, cached = [], ReasoningFilter(), {}, self.model, 0
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
                    cached = cached_tokens(event) or cached  # in the last chunk, with usage or timings
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
                provider=self.name, model=model, reasoning=cleaned.reasoning, cached_tokens=cached,
            )
        finally:
            client.close()

    def _open_stream(self, client: httpx.Client, body: dict) -> httpx.Response:
        response = client.send(client.build_request("POST", "/chat/completions", json=body), stream=True)
        if response.status_code >= 400:
            response.read()
            response.close()
        self._check(response)
        return response


class _Retryable(Exception):
    def __init__(self, status: int, retry_after: float | None = None):
        super().__init__(f"HTTP {status}")
        self.status, self.retry_after = status, retry_after


class _Refused(Exception):
    """HTTP 400: perhaps an option this server does not know (the caller decides)."""

    def __init__(self, text: str):
        super().__init__("HTTP 400")
        self.text = text


def cached_tokens(data: dict) -> int | None:
    """The prompt tokens a response (or a stream's event) says came from the server's prompt cache, ``None``
    when it does not say. OpenAI, vLLM and OpenRouter: ``usage.prompt_tokens_details.cached_tokens`` (the
    details may be absent or null); llama.cpp's server: ``timings.cache_n``, older ones ``tokens_cached``."""
    details = (data.get("usage") or {}).get("prompt_tokens_details") or {}
    timings = data.get("timings") or {}
    for value in (details.get("cached_tokens"), timings.get("cache_n"), data.get("tokens_cached")):
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return int(value)
    return None


def _refused_option(body: dict, error_text: str) -> str | None:
    """The option to drop after a 400: ``cache_prompt`` if the error names it, stream options if it is about
    streaming, else the response format, else stream options, else ``cache_prompt``; ``None`` when the request
    had none left (the 400 is about something else)."""
    text = error_text.lower()
    response_format = (body.get("response_format") or {}).get("type")
    if "cache_prompt" in body and "cache_prompt" in text:
        return "cache_prompt"
    if "stream_options" in body and "stream" in text and "response_format" not in text:
        return "stream_options"
    if response_format:
        return response_format
    if "stream_options" in body:
        return "stream_options"
    return "cache_prompt" if "cache_prompt" in body else None


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), ``None`` if absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _prompt_tokens(request: LLMRequest) -> int:
    return approximate_tokens("\n".join(str(message.get("content", "")) for message in request.messages))
