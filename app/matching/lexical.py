"""Lexical side of matching: jieba tokenisation and an incremental Okapi BM25 index.

Exact terms matter in technology matching (a model number, a material, a
process name) and dense vectors blur them, so BM25 runs next to the encoder.

The index is built for single-record updates from a change log. What a bulk load brings
(from_tokens, from_arrays, load, a purge) stays in flat arrays, by record and by term (CSR), so
loading 100,000 records creates no Python object per record or term; records added one at a
time after it go to append-only `array` buffers per term. A removed or replaced record leaves
a tombstone masked at query time, and tombstones are purged on save() once they exceed 20 %.
Scoring is vectorised with numpy over the postings of the query terms, which keeps a query at
100k records within a few milliseconds.
"""

import json
import logging
import math
import re
import threading
from array import array
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping, Sequence, TypedDict

import jieba
import numpy as np
from scipy.sparse import csr_array

jieba.setLogLevel(logging.WARNING)  # its dictionary-loading chatter is not the service's log


def _read_stopwords(path: Path) -> frozenset[str]:
    """The words of a stop-word file: whitespace-separated, "#" starts a comment."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(word for line in lines for word in line.split("#", 1)[0].split())


STOPWORDS = _read_stopwords(Path(__file__).with_name("stopwords.txt"))
# An exact term: a run of Latin letters and digits, joined inside by "." or "-" (VOCs, PM2.5,
# Ti-6Al-4V, 5G, LiFePO4). Such runs are cut out before jieba, which would split them
# (pm2 . 5) or glue them to a neighbouring Chinese dictionary word (vocs治理).
_LATIN = "0-9A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"  # digits and Latin letters, without × and ÷
EXACT_TERM = re.compile(f"([{_LATIN}]+(?:[.\\-][{_LATIN}]+)*)")
_WORD = re.compile(r"[^\W_]")  # a letter, digit or CJK character


@lru_cache(maxsize=1)
def jieba_dictionary() -> tuple[dict[str, int], int]:
    """jieba's default prefix dictionary (word -> frequency) and its frequency total.

    Loading it takes about 1.4 s; it is read once per process and every Tokenizer starts from a
    copy (about 25 ms), so opening another engine (CLI commands, tests) does not pay it again.
    """
    loaded = jieba.Tokenizer()
    loaded.initialize()
    return loaded.FREQ, loaded.total


def _new_jieba() -> jieba.Tokenizer:
    """A private, initialised jieba.Tokenizer whose add_word() changes only its own dictionary."""
    frequencies, total = jieba_dictionary()
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ, tokenizer.total = dict(frequencies), total
    tokenizer.initialized = True
    return tokenizer


class Tokenizer:
    """jieba search-mode tokeniser with a user dictionary that grows at run time.

    Search mode also emits the parts of long compounds (飞行器 -> 飞行, 飞行器),
    so a query for the short form still reaches documents using the long one.
    A private jieba.Tokenizer keeps added terms out of jieba's global state.
    """

    def __init__(self, terms: Iterable[str] = ()):
        self._jieba = _new_jieba()
        self._lock = threading.Lock()
        self._terms: set[str] = set()
        self.add_terms(terms)

    @property
    def terms(self) -> frozenset[str]:
        """Words added with add_terms (saved with the engine)."""
        return frozenset(self._terms)

    def add_terms(self, words: Iterable[str]) -> None:
        """Teach domain words (industry fields, record keywords) so they stay whole."""
        with self._lock:
            for word in words:
                word = (word or "").strip().lower()
                if len(word) > 1 and word not in self._terms:
                    self._jieba.add_word(word)
                    self._terms.add(word)

    def tokenize(self, text: str) -> list[str]:
        """Lowercased tokens in text order, without stop words, punctuation or whitespace.

        Exact terms stay whole and are only case-folded (VOCs -> vocs, Ti-6Al-4V -> ti-6al-4v);
        jieba cuts the text between them. A Latin word written with a capital letter is a name,
        symbol or acronym (IT, As, NO), so the stop-word list applies to lowercase ones only.
        """
        tokens = []
        for number, part in enumerate(EXACT_TERM.split(text)):
            if number % 2:  # split() puts the captured exact terms at odd positions
                if part.lower() not in STOPWORDS or part != part.lower():
                    tokens.append(part.lower())
                continue
            for token in self._jieba.cut_for_search(part.lower()):
                token = token.strip()
                if token and token not in STOPWORDS and _WORD.search(token):
                    tokens.append(token)
        return tokens


def matched_terms(query_tokens: Sequence[str], doc_tokens: Iterable[str]) -> list[str]:
    """Query terms present in the document, in query order, without duplicates.

    Terms contained in a longer matched term are dropped (飞行 when 飞行器 matched)
    so explanations read naturally.
    """
    doc = set(doc_tokens)
    hits = list(dict.fromkeys(t for t in query_tokens if t in doc))
    return [t for t in hits if not any(t != other and t in other for other in hits)]


class _Arrays(TypedDict):
    """A BM25Index's live records as flat arrays (CSR by record): what save() writes and load() reads."""

    doc_ptr: np.ndarray
    doc_terms: np.ndarray
    doc_tfs: np.ndarray
    doc_len: np.ndarray
    label_ids: np.ndarray


# Records whose token strings BM25Index.from_tokens splits at once.
_BULK_RECORDS = 10_000
# The terms and term frequencies of a removed record: a tombstone holds no postings of its own.
_NO_TERMS = np.zeros(0, np.int32)
_NO_TFS = np.zeros(0, np.float32)
_NO_PTR = np.zeros(1, np.int64)


class BM25Index:
    """Okapi BM25 over records keyed by database id, updated one record at a time."""

    def __init__(self, k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self.applied_seq = 0
        self._term_ids: dict[str, int] = {}
        self._terms: list[str] = []
        self._df: list[int] = []  # live documents per term
        # The last bulk load, CSR by record (label -> slice of term ids and frequencies) and by
        # term (term id -> slice of labels and frequencies); labels below `_loaded` are its records.
        self._loaded = 0
        self._doc_ptr, self._doc_terms, self._doc_tfs = _NO_PTR, _NO_TERMS, _NO_TFS
        self._post_ptr, self._post_labels, self._post_tfs = _NO_PTR, _NO_TERMS, _NO_TFS
        # Records added one at a time since (label - _loaded -> term ids, frequencies; empty once
        # removed) and their postings (term id -> labels, frequencies).
        self._added_terms: list[np.ndarray] = []
        self._added_tfs: list[np.ndarray] = []
        self._added_post_labels: dict[int, array[int]] = {}
        self._added_post_tfs: dict[int, array[float]] = {}
        self._doc_len = np.zeros(0, dtype=np.float32)
        self._alive = np.zeros(0, dtype=bool)
        self._label_ids: list[int] = []
        self._id_label: dict[int, int] = {}
        self._total_len = 0.0

    @property
    def count(self) -> int:
        return len(self._id_label)

    def _term_id(self, term: str) -> int:
        tid = self._term_ids.get(term)
        if tid is None:
            tid = self._term_ids[term] = len(self._terms)
            self._terms.append(term)
            self._df.append(0)
        return tid

    def add(self, id_: int, tokens: Sequence[str]) -> None:
        """Insert or replace one record."""
        self.remove(id_)
        counts = Counter(tokens)
        label = len(self._label_ids)
        terms = np.fromiter((self._term_id(t) for t in counts), dtype=np.int32, count=len(counts))
        tfs = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        for tid, tf in zip(terms.tolist(), tfs.tolist(), strict=True):
            self._added_post_labels.setdefault(tid, array("i")).append(label)
            self._added_post_tfs.setdefault(tid, array("f")).append(tf)
            self._df[tid] += 1
        self._append_doc(int(id_), terms, tfs, float(len(tokens)))

    def _append_doc(self, id_: int, terms: np.ndarray, tfs: np.ndarray, length: float) -> None:
        label = len(self._label_ids)
        if label == len(self._doc_len):
            grow = max(1024, label)
            self._doc_len = np.concatenate([self._doc_len, np.zeros(grow, np.float32)])
            self._alive = np.concatenate([self._alive, np.zeros(grow, bool)])
        self._doc_len[label] = length
        self._alive[label] = True
        self._added_terms.append(terms)
        self._added_tfs.append(tfs)
        self._label_ids.append(id_)
        self._id_label[id_] = label
        self._total_len += length

    def remove(self, id_: int) -> None:
        label = self._id_label.pop(int(id_), None)
        if label is None:
            return
        for tid in self._doc(label)[0].tolist():
            self._df[tid] -= 1
        self._total_len -= float(self._doc_len[label])
        self._alive[label] = False
        if label >= self._loaded:
            self._added_terms[label - self._loaded], self._added_tfs[label - self._loaded] = _NO_TERMS, _NO_TFS

    def _doc(self, label: int) -> tuple[np.ndarray, np.ndarray]:
        """A live record's term ids and term frequencies."""
        if label < self._loaded:
            start, end = self._doc_ptr[label], self._doc_ptr[label + 1]
            return self._doc_terms[start:end], self._doc_tfs[start:end]
        return self._added_terms[label - self._loaded], self._added_tfs[label - self._loaded]

    def _postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        """The labels holding a term and its frequency in each (removed records included: callers mask them)."""
        labels, tfs = _NO_TERMS, _NO_TFS
        if tid < len(self._post_ptr) - 1:
            start, end = self._post_ptr[tid], self._post_ptr[tid + 1]
            labels, tfs = self._post_labels[start:end], self._post_tfs[start:end]
        added = self._added_post_labels.get(tid)
        if added is not None:  # copies: the buffers may grow while the result is in use
            labels = np.concatenate([labels, np.frombuffer(added, dtype=np.int32)])
            tfs = np.concatenate([tfs, np.frombuffer(self._added_post_tfs[tid], dtype=np.float32)])
        return labels, tfs

    def terms_of(self, id_: int) -> list[str]:
        """Distinct terms of a stored record (empty if unknown)."""
        label = self._id_label.get(int(id_))
        if label is None:
            return []
        return [self._terms[t] for t in self._doc(label)[0].tolist()]

    def top_terms(self, id_: int, n: int = 20) -> list[str]:
        """The record's n most characteristic terms by tf-idf, for "more like this" queries."""
        label = self._id_label.get(int(id_))
        if label is None:
            return []
        terms, tfs = self._doc(label)
        weights = tfs * self._idf(terms)
        return [self._terms[t] for t in terms[np.argsort(-weights, kind="stable")[:n]].tolist()]

    def document_frequency(self, term: str) -> int:
        """How many records hold `term`."""
        tid = self._term_ids.get(term)
        return 0 if tid is None else self._df[tid]

    def _idf(self, term_ids: np.ndarray) -> np.ndarray:
        df = np.array([self._df[t] for t in term_ids.tolist()], dtype=np.float32)
        return np.log1p((self.count - df + 0.5) / (df + 0.5))

    def _term_idf(self, df: int) -> float:
        return math.log1p((self.count - df + 0.5) / (df + 0.5))

    def _length_norm(self, doc_len: np.ndarray) -> np.ndarray:
        """k1·(1 − b + b·length/average length) of records of lengths `doc_len`: the longer the
        record, the less each occurrence of a term counts."""
        return self.k1 * (1 - self.b + self.b * doc_len / (self._total_len / self.count))

    def _term_scores(self, qtf: int, tid: int, tfs: np.ndarray, norm: np.ndarray) -> np.ndarray:
        """The BM25 score that a term `qtf` times in the query gives records holding it `tfs`
        times, whose `_length_norm`s are `norm`."""
        scores: np.ndarray = qtf * self._term_idf(self._df[tid]) * tfs * (self.k1 + 1) / (tfs + norm)
        return scores

    def rare_term_share(self, query_tokens: Sequence[str], ids: Iterable[int]) -> np.ndarray:
        """Per id, the share of the distinct query terms the record contains verbatim, weighted by rarity.

        A term's rarity is its idf divided by the idf of a term found in a single record, in
        (0, 1]: a record holding every query term scores near 1 when the terms are rare in the
        corpus (an acronym, a formula) and little when they are common words.
        """
        terms = list(dict.fromkeys(query_tokens))
        labels = np.array([self._id_label.get(int(i), -1) for i in ids], dtype=np.int64)
        share = np.zeros(len(labels), dtype=np.float32)
        if not terms or not self.count:
            return share
        for term in terms:
            tid = self._term_ids.get(term)
            if tid is not None and self._df[tid]:
                holders = np.isin(labels, self._postings(tid)[0])
                share[holders] += self._term_idf(self._df[tid]) / self._term_idf(1)
        return share / len(terms)

    def score_all(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every internal label; pass the result to top() and scores_of().

        Computing it once per query and reading both the top list and the
        scores of other candidates from it halves the lexical cost of a query.
        """
        scores = np.zeros(len(self._label_ids), dtype=np.float32)
        if not self.count:
            return scores
        norm = self._length_norm(self._doc_len[: len(scores)])
        for term, qtf in Counter(query_tokens).items():
            tid = self._term_ids.get(term)
            if tid is None or not self._df[tid]:
                continue
            docs, tfs = self._postings(tid)
            scores[docs] += self._term_scores(qtf, tid, tfs, norm[docs])
        return scores

    def score_matrix(self, queries: Sequence[Sequence[str]], ids: Sequence[int]) -> np.ndarray:
        """The score_all() entries of each query (rows) for each of `ids` (columns; 0.0 if unknown).

        The postings of those records alone are gathered once and every query is scored over
        them, so the cost follows the records and the queries' terms, not the corpus size: the
        saved searches of one run are scored together over what was published since the last.
        """
        scores = np.zeros((len(queries), len(ids)), dtype=np.float32)
        if not self.count:
            return scores
        lengths = np.zeros(len(ids), dtype=np.float32)
        gathered: dict[int, tuple[list[int], list[float]]] = {}
        for column, id_ in enumerate(ids):
            label = self._id_label.get(int(id_))
            if label is None:
                continue
            lengths[column] = self._doc_len[label]
            terms, tfs_of_record = self._doc(label)
            for tid, tf in zip(terms.tolist(), tfs_of_record.tolist(), strict=True):
                columns, tfs = gathered.setdefault(tid, ([], []))
                columns.append(column)
                tfs.append(tf)
        norm = self._length_norm(lengths)  # an unknown id's entry is never read: it holds no postings
        postings = {tid: (np.array(c, dtype=np.int64), np.array(t, dtype=np.float32)) for tid, (c, t) in gathered.items()}
        for row, tokens in enumerate(queries):
            for term, qtf in Counter(tokens).items():
                tid = self._term_ids.get(term)
                if tid is None or tid not in postings:
                    continue
                where, frequencies = postings[tid]
                scores[row, where] += self._term_scores(qtf, tid, frequencies, norm[where])
        return scores

    def ceiling(self, query_tokens: Sequence[str]) -> float:
        """The most any record could score for the query: each term's frequency saturated (tf -> inf).

        A scale for BM25 that belongs to the query (and the corpus's term statistics), not to the
        other candidates: score / ceiling reads the same whatever the filters. Terms no record
        holds count at the highest idf, since a query about what the corpus lacks is no match.
        """
        counts = Counter(query_tokens)
        df = np.array([self._df[self._term_ids[t]] if t in self._term_ids else 0 for t in counts], dtype=np.float64)
        qtf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        return float((qtf * np.log1p((self.count - df + 0.5) / (df + 0.5))).sum() * (self.k1 + 1))

    def top(self, scores: np.ndarray, k: int, allowed_ids: Iterable[int] | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) with score > 0, restricted to allowed_ids before ranking."""
        if allowed_ids is None:
            candidates = np.flatnonzero((scores > 0) & self._alive[: len(scores)])
        else:
            labels = (self._id_label.get(int(i)) for i in allowed_ids)
            candidates = np.array([x for x in labels if x is not None], dtype=np.int64)
            candidates = candidates[scores[candidates] > 0]
        if len(candidates) > k:
            candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        candidates = candidates[np.argsort(-scores[candidates], kind="stable")]
        ids = np.array([self._label_ids[c] for c in candidates.tolist()], dtype=np.int64)
        return scores[candidates], ids

    def scores_of(self, scores: np.ndarray, ids: Iterable[int]) -> np.ndarray:
        """Entries of a score_all() result for given ids (0.0 for unknown ids)."""
        labels = [self._id_label.get(int(i)) for i in ids]
        return np.array([0.0 if x is None else scores[x] for x in labels], dtype=np.float32)

    def search(self, query_tokens: Sequence[str], k: int, allowed_ids: Iterable[int] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        return self.top(self.score_all(query_tokens), k, allowed_ids)

    def _to_arrays(self) -> _Arrays:
        """Live records as flat arrays (CSR by record); removed records are dropped."""
        live = np.flatnonzero(self._alive[: len(self._label_ids)])
        loaded, added = live[live < self._loaded], live[live >= self._loaded]
        starts, lengths = self._doc_ptr[loaded], np.diff(self._doc_ptr)[loaded]
        # The loaded records' slices, gathered in one pass: each slice's positions are its start plus 0, 1, 2, …
        gather = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
        added_terms = [self._added_terms[x - self._loaded] for x in added.tolist()]
        added_tfs = [self._added_tfs[x - self._loaded] for x in added.tolist()]
        sizes = np.concatenate([lengths, np.array([len(terms) for terms in added_terms], dtype=np.int64)])
        return _Arrays(
            doc_ptr=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            doc_terms=np.concatenate([self._doc_terms[gather], *added_terms]).astype(np.int32),
            doc_tfs=np.concatenate([self._doc_tfs[gather], *added_tfs]).astype(np.float32),
            doc_len=self._doc_len[live],
            label_ids=np.array(self._label_ids, dtype=np.int64)[live],
        )

    def _load_arrays(self, terms: list[str], data: _Arrays) -> None:
        """Replace the contents with records from _to_arrays() output, postings built in bulk
        (turning the records' CSR into the terms' is a compressed-sparse-column conversion)."""
        ptr = np.asarray(data["doc_ptr"], dtype=np.int64)
        doc_terms, doc_tfs = np.asarray(data["doc_terms"], dtype=np.int32), np.asarray(data["doc_tfs"], dtype=np.float32)
        n = len(ptr) - 1
        self._terms = list(terms)
        self._term_ids = {t: i for i, t in enumerate(self._terms)}
        self._label_ids = data["label_ids"].tolist()
        self._id_label = {id_: label for label, id_ in enumerate(self._label_ids)}
        self._doc_len = np.array(data["doc_len"], dtype=np.float32)
        self._alive = np.ones(n, dtype=bool)
        self._total_len = float(self._doc_len.sum())
        self._loaded, self._doc_ptr, self._doc_terms, self._doc_tfs = n, ptr, doc_terms, doc_tfs
        # int32 offsets while they fit, so that scipy keeps every index array in int32 (no copies in int64)
        offsets = ptr.astype(np.int32) if len(doc_terms) < np.iinfo(np.int32).max else ptr
        by_term = csr_array((doc_tfs, doc_terms, offsets), shape=(n, len(self._terms))).tocsc()
        self._post_ptr = by_term.indptr.astype(np.int64)
        self._post_labels = by_term.indices.astype(np.int32, copy=False)
        self._post_tfs = by_term.data.astype(np.float32, copy=False)
        self._added_terms, self._added_tfs, self._added_post_labels, self._added_post_tfs = [], [], {}, {}
        self._df = np.diff(self._post_ptr).tolist()

    @classmethod
    def from_tokens(cls, ids: Sequence[int] | np.ndarray, tokens: Sequence[str]) -> "BM25Index":
        """An index of many records at once, from their space-separated token strings (stored tokens).

        A fresh start reads 100,000 records of about a hundred tokens each, so the work per
        token is kept to C-level passes, a chunk of records at a time (the chunk's tokens are
        the only Python strings alive at once): one split, one dict.fromkeys to find the new
        terms (which also caches each token's hash), one map of the dict's lookup into a numpy
        array. Term frequencies per record then come from one numpy sort of (record, term) keys.
        """
        numbering: dict[str, int] = {}
        codes = []
        for start in range(0, len(tokens), _BULK_RECORDS):
            words = " ".join(tokens[start:start + _BULK_RECORDS]).split()
            for term in dict.fromkeys(words):
                numbering.setdefault(term, len(numbering))
            codes.append(np.fromiter(map(numbering.__getitem__, words), dtype=np.int64, count=len(words)))
        lengths = np.fromiter((text.count(" ") + 1 if text else 0 for text in tokens), dtype=np.int64, count=len(tokens))
        width = max(len(numbering), 1)
        records = np.repeat(np.arange(len(tokens), dtype=np.int64), lengths)
        keys, counts = np.unique(records * width + np.concatenate([np.zeros(0, np.int64), *codes]), return_counts=True)
        index = cls()
        index._load_arrays(list(numbering), _Arrays(
            doc_ptr=np.searchsorted(keys // width, np.arange(len(tokens) + 1)).astype(np.int64),
            doc_terms=(keys % width).astype(np.int32),
            doc_tfs=counts.astype(np.float32),
            doc_len=lengths.astype(np.float32),
            label_ids=np.asarray(ids, dtype=np.int64),
        ))
        return index

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Live records and the vocabulary as flat arrays (an index snapshot); `from_arrays` reads them back."""
        data = self._to_arrays()
        return {"doc_ptr": data["doc_ptr"], "doc_terms": data["doc_terms"], "doc_tfs": data["doc_tfs"], "doc_len": data["doc_len"],
                "label_ids": data["label_ids"],
                "terms": np.frombuffer("\n".join(self._terms).encode("utf-8"), dtype=np.uint8)}  # a term holds no whitespace

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "BM25Index":
        """An index of the records `to_arrays` wrote."""
        terms = arrays["terms"].tobytes().decode("utf-8").split("\n") if len(arrays["terms"]) else []
        index = cls()
        index._load_arrays(terms, _Arrays(doc_ptr=arrays["doc_ptr"], doc_terms=arrays["doc_terms"], doc_tfs=arrays["doc_tfs"],
                                          doc_len=arrays["doc_len"], label_ids=arrays["label_ids"]))
        return index

    def save(self, directory: str | Path) -> None:
        """Persist live records as flat arrays (npz) plus the vocabulary (json), each atomically.

        Tombstones are never written; in memory they are purged here once they exceed 20 %.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = self._to_arrays()
        if self.count < 0.8 * len(self._label_ids):
            self._load_arrays(self._terms, arrays)
        tmp = directory / "bm25.npz.tmp"
        with tmp.open("wb") as handle:
            np.savez(handle, **arrays)
        tmp.replace(directory / "bm25.npz")
        meta = {"k1": self.k1, "b": self.b, "terms": self._terms, "applied_seq": self.applied_seq}
        tmp = directory / "bm25.json.tmp"
        tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        tmp.replace(directory / "bm25.json")

    @classmethod
    def load(cls, directory: str | Path) -> "BM25Index":
        directory = Path(directory)
        meta = json.loads((directory / "bm25.json").read_text(encoding="utf-8"))
        index = cls(meta["k1"], meta["b"])
        index.applied_seq = int(meta["applied_seq"])
        with np.load(directory / "bm25.npz") as data:
            arrays = _Arrays(doc_ptr=data["doc_ptr"], doc_terms=data["doc_terms"], doc_tfs=data["doc_tfs"],
                             doc_len=data["doc_len"], label_ids=data["label_ids"])
        index._load_arrays(meta["terms"], arrays)
        return index
