"""Names the directory derives: sAMAccountName as MPS generates it (seed 003)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

ILLEGAL_SAM_CHARACTERS = frozenset('"/\\[]:|<>+=;?,*')
MAX_SAM_LENGTH = 20


def sam_seed(name: str) -> str:
    """Steps 1–3: drop illegal characters, '@' → '_', at most 20 characters, no trailing '.'."""
    cleaned = "".join("_" if c == "@" else c for c in name if c not in ILLEGAL_SAM_CHARACTERS and c >= " ")
    cleaned = cleaned[:MAX_SAM_LENGTH]
    if cleaned.endswith("."):
        cleaned = cleaned[:-1] + "_"
    return cleaned


def sam_candidates(name: str, *, digits: Callable[[int], str] | None = None) -> Iterator[str]:
    """The six trial names of step 4–5: the seed itself, 3 × (17 chars + 3 random digits),
    2 × (15 chars + 5 random digits)."""
    draw = digits or (lambda n: "".join(secrets.choice("0123456789") for _ in range(n)))
    seed = sam_seed(name)
    yield seed
    for _ in range(3):
        yield seed[:17] + draw(3)
    for _ in range(2):
        yield seed[:15] + draw(5)
