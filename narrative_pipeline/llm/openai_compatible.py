"""Any OpenAI-compatible chat-completions server: Ollama, vLLM, llama.cpp server, LM Studio,
OpenRouter, OpenAI. Timeouts, retries with backoff on 429/5xx and dropped connections,
streaming (server-sent events), and token usage from the response."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import httpx
from django.conf import settings

from . import Completion, LLMError, LLMRequest, approximate_tokens

logger = logging.getLogger("luna.llm")

RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}


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
        last_problem = "no attempt made"
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return attempt_once()
            except httpx.TimeoutException:
                last_problem = f"the LLM server did not answer within {self.timeout:g} s"
            except httpx.TransportError as error:
                # Players see this message: the server's address is for the operator's log only.
                logger.warning("could not reach the LLM server at %s: %r", self.base_url, error)
                last_problem = f"could not reach the LLM server ({error.__class__.__name__})"
            except _Retryable as retryable:
                last_problem = str(retryable)
        raise LLMError(f"{last_problem}; gave up after {self.max_retries + 1} attempts.")

    def complete(self, request: LLMRequest) -> Completion:
        def once() -> Completion:
            with self._client() as client:
                response = client.post("/chat/completions", json=self._body(request, stream=False))
                _check(response)
                try:
                    data = response.json()
                    text = data["choices"][0]["message"]["content"] or ""
                except (ValueError, KeyError, IndexError, TypeError) as error:
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
        try:
            # Retries are only possible before the first piece reaches the reader.
            response = self._with_retries(lambda: _open_stream(client, self._body(request, stream=True)))
            pieces, usage, model = [], {}, self.model
            try:
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
                        piece = (choice.get("delta") or {}).get("content") or ""
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
                provider=self.name, model=model,
            )
        finally:
            client.close()


class _Retryable(Exception):
    pass


def _check(response: httpx.Response) -> None:
    if response.status_code in RETRY_STATUSES:
        raise _Retryable(f"the LLM server answered HTTP {response.status_code}")
    if response.status_code >= 400:
        detail = response.text[:300]
        raise LLMError(f"The LLM server refused the request (HTTP {response.status_code}): {detail}")


def _open_stream(client: httpx.Client, body: dict) -> httpx.Response:
    response = client.send(client.build_request("POST", "/chat/completions", json=body), stream=True)
    if response.status_code >= 400:
        response.read()
        response.close()
    _check(response)
    return response


def _prompt_tokens(request: LLMRequest) -> int:
    return approximate_tokens("\n".join(str(message.get("content", "")) for message in request.messages))
