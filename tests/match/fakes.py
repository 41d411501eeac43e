"""A deterministic sentence encoder for tests: hashed bags of stems (no model needed)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from service.match.semantic import DIMENSIONS
from service.match.text import STOPWORDS, analyze


class HashingEncoder:
    name = "hashing-test-encoder"

    def __init__(self) -> None:
        self.calls: list[int] = []  # how many texts each call embedded

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for row, text in enumerate(texts):
            analyzed = analyze(text)
            for word, stem in zip(analyzed.exact, analyzed.stems, strict=True):
                if word not in STOPWORDS:
                    slot = int.from_bytes(hashlib.blake2b(stem.encode(), digest_size=4).digest())
                    out[row, slot % DIMENSIONS] += 1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
        return out
