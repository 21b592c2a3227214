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
from importlib.resources import files
from typing import Protocol

_WHITESPACE = re.compile(r"\s+")
# The dictionaries of OpenCC's "t2s" conversion (its config/t2s.json): phrases first, then characters.
T2S_DICTIONARIES = ("TSPhrases.txt", "TSCharacters.txt")


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


@lru_cache(maxsize=1)
def _t2s() -> tuple[_Converter, frozenset[str]]:
    """The traditional-to-simplified converter, built once on first use (it loads dictionaries), and
    the characters that can make it change a text.

    Those are every character a dictionary entry changes (繁 -> 繁's simplified form), and of a
    phrase entry whose characters each stay the same alone but not together (反覆 -> 反复), the
    characters it changes: an entry can match only where the text holds all of its characters, so a
    text holding none of them is returned as it is. Most texts are (996 of the 1,000 csl_dev
    abstracts), and the pure-Python converter costs about 1 ms per abstract.
    """
    from opencc import OpenCC

    converter: _Converter = OpenCC("t2s")
    triggers: set[str] = set()
    folder = files("opencc") / "dictionary"
    for name in T2S_DICTIONARIES:
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            key, _, values = line.partition("\t")
            value = values.split(" ")[0].strip()
            if value == key:
                continue
            if len(value) == len(key):
                triggers.update(k for k, v in zip(key, value, strict=True) if k != v)
            else:
                triggers.update(key)
    return converter, frozenset(triggers)


@lru_cache(maxsize=4096)
def normalize(text: str | None) -> str:
    """Simplified characters, NFKC (full-width to half-width), single spaces, stripped.

    Cached, and the converter skipped for a text it would not change: the same record texts come
    back in every match explanation.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    converter, triggers = _t2s()
    if not triggers.isdisjoint(text):
        text = converter.convert(text)
    return _WHITESPACE.sub(" ", text).strip()


def document_text(title: str | None, keywords: Sequence[str] | str | None, body: str | None) -> str:
    """One normalised string for a record: title, then keywords, then body."""
    if isinstance(keywords, str):
        keywords = [keywords]
    parts = [normalize(title), normalize(" ".join(keywords or [])), normalize(body)]
    return " ".join(part for part in parts if part)
