"""Connections: where the operator's models are reached, which models each offers, and what they cost.

One list from three places, by name:
- ``offline``: the offline narrator, always there, free.
- ``default``: the ``LLM_*`` settings as they always were (``LLM_BASE_URL``, ``LLM_API_KEY``, the models of
  agents set to ``openai``, ``LLM_ALLOWED_MODELS`` entries ``openai:…``, ``LLM_PRICES``).
- ``LLM_CONNECTIONS_JSON`` in the environment, and the admin's ``ModelConnection`` rows (an admin row may not
  take a name the environment already uses).

Players and authors choose a connection by name and one of the models it offers — never an address: the
server only ever calls the base URLs the operator wrote down (no SSRF). Keys stay here: a ``Connection``'s
``repr`` leaves out its address and key, and nothing a player reads is built from either.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection as database

from ..models import ModelConnection
from . import AGENTS, OFFLINE, OFFLINE_MODEL, LLMError, Provider
from .offline import OfflineProvider
from .openai_compatible import OpenAICompatibleProvider
from .sealed import UnreadableKey, unseal

DEFAULT = "default"
OPENAI = "openai"
BUILT_IN = (OFFLINE, DEFAULT)
ENV_FIELDS = {"label", "base_url", "api_key", "api_key_env", "models", "prices"}
# Set by ``offline_narrator()``: every agent is the offline narrator, whatever the settings and choices say.
_offline_only: ContextVar[bool] = ContextVar("offline_only", default=False)


@dataclass(frozen=True)
class Connection:
    name: str
    label: str
    provider: str  # offline | openai
    models: tuple[str, ...]
    base_url: str = field(default="", repr=False)
    api_key: str = field(default="", repr=False)
    prices: Mapping = field(default_factory=dict, repr=False, compare=False, hash=False)
    # An admin connection's key is sealed in the database and opened only to make a call (``api_key_read``).
    key_sealed: bool = False

    def offers(self, model: str) -> bool:
        return model in self.models

    def cost_usd(self, model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> Decimal:
        """USD at this connection's prices per million tokens (a model without a price costs 0). Of the prompt,
        ``cached_tokens`` are charged at ``cached_input`` (the input price when the operator gives none)."""
        prices = self.prices.get(model) or {}
        cached = min(cached_tokens, prompt_tokens)
        return (Decimal(str(prices.get("input", 0))) * (prompt_tokens - cached)
                + self._cached_input(prices) * cached
                + Decimal(str(prices.get("output", 0))) * completion_tokens) / Decimal(1_000_000)

    def cache_saved_usd(self, model: str, prompt_tokens: int, cached_tokens: int) -> Decimal:
        """What the prompt cache saved on a call: its cached tokens at the input price less the cached price."""
        prices = self.prices.get(model) or {}
        cached = min(cached_tokens, prompt_tokens)
        return (Decimal(str(prices.get("input", 0))) - self._cached_input(prices)) * cached / Decimal(1_000_000)

    @staticmethod
    def _cached_input(prices: Mapping) -> Decimal:
        return Decimal(str(prices.get("cached_input", prices.get("input", 0))))


@dataclass(frozen=True)
class ModelChoice:
    """One agent's model: a connection's name and one of its models."""

    connection: str
    model: str


def operator_choice(agent: str) -> ModelChoice:
    """The operator's model for ``agent``: ``LLM_<AGENT>_CONNECTION`` (a named connection), or
    ``LLM_<AGENT>_PROVIDER`` / ``LLM_PROVIDER`` (offline or openai, the default connection), and
    ``LLM_<AGENT>_MODEL`` / ``LLM_MODEL``."""
    agent_settings = settings.LLM_AGENTS.get(agent, {})
    model = agent_settings.get("model") or settings.LLM_MODEL
    if agent_settings.get("connection"):
        return ModelChoice(agent_settings["connection"], model)
    provider = agent_settings.get("provider") or settings.LLM_PROVIDER
    if provider == OFFLINE:
        return ModelChoice(OFFLINE, OFFLINE_MODEL)
    return ModelChoice(DEFAULT if provider == OPENAI else provider, model)


def choice_read(value) -> ModelChoice | None:
    """A stored choice, ``{"connection": …, "model": …}`` or the older ``{"provider": "openai", …}``;
    None for anything else. A missing model means the connection's first."""
    if not isinstance(value, dict):
        return None
    name = value.get("connection") or {OPENAI: DEFAULT}.get(value.get("provider"), value.get("provider"))
    model = value.get("model") or ""
    if not isinstance(name, str) or not isinstance(model, str) or not name:
        return None
    return ModelChoice(name, OFFLINE_MODEL if name == OFFLINE else model)


def connections() -> dict[str, Connection]:
    """Every connection a choice may name, in the order players see them."""
    found = {OFFLINE: Connection(OFFLINE, "Offline narrator (free, no model server)", OFFLINE, (OFFLINE_MODEL,))}
    default = _default_connection()
    if default.models:
        found[DEFAULT] = default
    for connection in [*_environment_connections(), *_admin_connections()]:
        found.setdefault(connection.name, connection)
    return found


def connection_names_reserved() -> set[str]:
    """Names an admin connection may not take: the built-in ones and the environment's."""
    return {*BUILT_IN, *settings.LLM_CONNECTIONS}


def connection_named(name: str) -> Connection | None:
    if name == DEFAULT:
        return _default_connection()  # even with no model listed, an agent set to openai uses it
    return connections().get(name)


def _models_listed_for(name: str) -> list[str]:
    """``LLM_ALLOWED_MODELS`` entries ``name:model`` (``openai:`` is the default connection)."""
    listed = []
    for entry in settings.LLM_ALLOWED_MODELS:
        prefix, _, model = entry.partition(":")
        if model and ({OPENAI: DEFAULT}.get(prefix, prefix) == name):
            listed.append(model)
    return listed


def _unique(models) -> tuple[str, ...]:
    return tuple(dict.fromkeys(model for model in models if model))


def _default_connection() -> Connection:
    configured = [choice.model for agent in AGENTS if (choice := operator_choice(agent)).connection == DEFAULT]
    return Connection(DEFAULT, settings.LLM_DEFAULT_CONNECTION_LABEL, OPENAI,
                      _unique([*configured, *_models_listed_for(DEFAULT)]),
                      base_url=settings.LLM_BASE_URL, api_key=settings.LLM_API_KEY, prices=settings.LLM_PRICES)


def _environment_connections() -> list[Connection]:
    """``LLM_CONNECTIONS_JSON``: ``{"name": {"label", "base_url", "api_key" or "api_key_env", "models",
    "prices"}}``. A mistake stops the app with the name and what is wrong (see ``connections_check``)."""
    found = []
    for name, spec in settings.LLM_CONNECTIONS.items():
        where = f"LLM_CONNECTIONS_JSON[{name!r}]"
        if name in BUILT_IN or not isinstance(spec, dict):
            raise ImproperlyConfigured(f"{where}: give an object, under any name but offline and default.")
        if unknown := set(spec) - ENV_FIELDS:
            raise ImproperlyConfigured(f"{where}: unknown keys {sorted(unknown)}; use {sorted(ENV_FIELDS)}.")
        if not str(spec.get("base_url", "")).startswith(("http://", "https://")):
            raise ImproperlyConfigured(f"{where}: base_url must be an http(s) address.")
        models = spec.get("models")
        if not isinstance(models, list) or not models or not all(isinstance(model, str) for model in models):
            raise ImproperlyConfigured(f"{where}: models must be a list of model names.")
        api_key = spec.get("api_key") or os.environ.get(spec.get("api_key_env") or "", "")
        found.append(Connection(name, spec.get("label") or name, OPENAI, _unique([*models, *_models_listed_for(name)]),
                                base_url=spec["base_url"], api_key=api_key, prices=_prices(spec.get("prices"), where)))
    return found


def _prices(value, where: str) -> dict:
    prices = value or {}
    if not isinstance(prices, dict) or not all(isinstance(price, dict) for price in prices.values()):
        raise ImproperlyConfigured(f'{where}: prices must be {{"model": {{"input": …, "output": …, "cached_input": …}}}}.')
    return {**settings.LLM_PRICES, **prices}


def _admin_connections() -> list[Connection]:
    return [Connection(row.name, row.label or row.name, OPENAI,
                       _unique([*(row.offered_models or []), *_models_listed_for(row.name)]),
                       base_url=row.base_url, prices={**settings.LLM_PRICES, **(row.prices or {})}, key_sealed=True)
            for row in ModelConnection.objects.filter(enabled=True).defer("api_key_sealed")]


def api_key_read(connection: Connection) -> str:
    """The key to send. An admin connection's comes through ``luna_connection_key()`` (request roles may
    not read the column, migration 0009) and is opened with the app's secret key (``sealed.py``)."""
    if not connection.key_sealed:
        return connection.api_key
    with database.cursor() as cursor:
        cursor.execute("SELECT luna_connection_key(%s)", [connection.name])
        row = cursor.fetchone()
    try:
        return unseal((row[0] if row else "") or "")
    except UnreadableKey as error:
        raise LLMError(f"The model connection {connection.label!r} cannot be used: the operator must enter "
                       "its key again.") from error


def connections_check() -> list[str]:
    """What is wrong with the environment's connections, for ``manage.py check`` ([] when nothing is)."""
    try:
        _environment_connections()
    except ImproperlyConfigured as error:
        return [str(error)]
    return []


# -- Choosing ------------------------------------------------------------------------------

@contextmanager
def offline_narrator():
    """Every call made inside is the offline narrator's: the demo's turns are written the same on every
    machine, and need no model server to be up (``make run`` starts whatever the model settings)."""
    token = _offline_only.set(True)
    try:
        yield
    finally:
        _offline_only.reset(token)


def choices_for(*, account_choices: dict | None = None, story_overrides: dict | None = None) -> dict[str, ModelChoice]:
    """Each agent's model: the operator's, then the account's choice, then the story's, each taken only while
    the operator still offers it (a choice stored before a model was withdrawn is passed over). The
    connections on offer are read once, and only when a choice needs them."""
    if _offline_only.get():
        return {agent: ModelChoice(OFFLINE, OFFLINE_MODEL) for agent in AGENTS}
    offered = connections() if account_choices or story_overrides else {}
    chosen = {}
    for agent in AGENTS:
        choice = operator_choice(agent)
        for layer in (account_choices, story_overrides):
            picked = choice_read((layer or {}).get(agent))
            connection = offered.get(picked.connection) if picked else None
            if connection and not picked.model and connection.models:
                picked = ModelChoice(picked.connection, connection.models[0])
            if connection and connection.offers(picked.model):
                choice = picked
        chosen[agent] = choice
    return chosen


STORY, ACCOUNT, OPERATOR = "story", "account", "operator"


def choice_source(agent: str, choice: ModelChoice, *, account_choices: dict | None = None,
                  story_overrides: dict | None = None) -> str:
    """Which layer ``choices_for`` took ``choice`` from: the story's, the account's, else the operator's
    (a layer naming the model it would have used anyway is still the one that chose it)."""
    for source, layer in ((STORY, story_overrides), (ACCOUNT, account_choices)):
        picked = choice_read((layer or {}).get(agent))
        if picked and picked.connection == choice.connection and picked.model in ("", choice.model):
            return source
    return OPERATOR


def provider_for(choice: ModelChoice) -> tuple[Provider, Connection]:
    """The provider that makes ``choice``'s calls, and its connection (for prices)."""
    connection = connection_named(choice.connection)
    if connection is None:
        raise LLMError(f"The model connection {choice.connection!r} does not exist; the operator must set it up "
                       "or choose another for this agent.")
    if connection.provider == OFFLINE:
        return OfflineProvider(model=choice.model), connection
    return OpenAICompatibleProvider(choice.model, base_url=connection.base_url,
                                    api_key=api_key_read(connection)), connection


def choices_validate(value) -> dict:
    """Per-agent choices as stored on a story (``llm_overrides``) or an account:
    ``{"writer": {"connection": "…", "model": "…"}}`` (``"provider": "openai"`` still names the default
    connection). Raises ``ValidationError`` naming what is not offered. Returns the choices normalised."""
    if not isinstance(value, dict):
        raise ValidationError('Give an object per agent, e.g. {"writer": {"connection": "default", "model": "…"}}.')
    offered = connections()
    menu = "; ".join(f"{name}: {', '.join(connection.models)}" for name, connection in offered.items())
    normalised = {}
    for agent, choice in value.items():
        if agent not in AGENTS:
            raise ValidationError(f"{agent!r} is not an agent; the agents are {', '.join(AGENTS)}.")
        if choice in (None, {}):
            continue  # no choice: the next layer's model
        if not isinstance(choice, dict) or set(choice) - {"connection", "provider", "model"}:
            raise ValidationError(f"For {agent}, choose a connection and a model by name; addresses and keys are "
                                  "the operator's.")
        if not all(isinstance(part, str) for part in choice.values()):
            raise ValidationError(f"For {agent}, the connection and the model are names.")
        if not (choice.get("connection") or choice.get("provider")):  # a model alone: on the operator's connection
            choice = {**choice, "connection": operator_choice(agent).connection}
        picked = choice_read(choice)
        connection = offered.get(picked.connection) if picked else None
        if connection is None:
            raise ValidationError(f"For {agent}, {choice.get('connection') or choice.get('provider')!r} is not a "
                                  f"connection this site offers; choose one of {', '.join(offered)}.")
        model = choice.get("model") or connection.models[0]
        if not connection.offers(model):
            raise ValidationError(f"{picked.connection}:{model} is not a model this site offers for {agent}; "
                                  f"the connections offer {menu}.")
        normalised[agent] = {"connection": picked.connection, "model": model}
    return normalised
