"""Text normalisation shared by the dense encoder and the lexical index.

Both indexes must see the same text, otherwise a record written in
traditional characters or full-width forms would only match through one of
them. Length is deliberately not limited here: truncation is done on tokens by
the encoder (its max_seq_length), the only place where the limit is known.
"""

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

_WHITESPACE = re.compile(r"\s+")


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


@lru_cache(maxsize=1)
def _t2s() -> _Converter:
    """Build the traditional-to-simplified converter once, on first use (it loads dictionaries)."""
    from opencc import OpenCC

    converter: _Converter = OpenCC("t2s")
    return converter


@lru_cache(maxsize=4096)
def normalize(text: str | None) -> str:
    """Simplified characters, NFKC (full-width to half-width), single spaces, stripped.

    Cached: the pure-Python OpenCC costs about 1 ms per abstract, and the same record texts
    come back in every match explanation.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = _t2s().convert(text)
    return _WHITESPACE.sub(" ", text).strip()


def document_text(title: str | None, keywords: Sequence[str] | str | None, body: str | None) -> str:
    """One normalised string for a record: title, then keywords, then body."""
    if isinstance(keywords, str):
        keywords = [keywords]
    parts = [normalize(title), normalize(" ".join(keywords or [])), normalize(body)]
    return " ".join(part for part in parts if part)
