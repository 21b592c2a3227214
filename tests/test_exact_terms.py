"""Exact terms and stop words in the lexical side of matching: the tokeniser, and the engine with the real encoder.

The corpus (tests/data/exact_terms.jsonl) holds, for each term, records that use it verbatim
among records of the same topic that do not: loose semantic neighbours, which the dense side
alone ranks as high or higher for a query of one acronym.
"""

import json
from pathlib import Path

import pytest
from engine_support import achievements_engine

from app.matching.engine import MatchEngine
from app.matching.lexical import STOPWORDS, Tokenizer

CORPUS = [json.loads(line) for line in (Path(__file__).parent / "data" / "exact_terms.jsonl").open(encoding="utf-8")]
TERMS = sorted({term for record in CORPUS for term in record["terms"]})
IDS = {record["key"]: number for number, record in enumerate(CORPUS, start=1)}


def holders(term: str) -> set[int]:
    return {IDS[record["key"]] for record in CORPUS if term in record["terms"]}


@pytest.fixture(scope="module")
def engine() -> MatchEngine:
    return achievements_engine(CORPUS)  # numbered as IDS numbers them


@pytest.mark.parametrize("term", ["VOCs", "COD", "SOD", "PM2.5", "Ti-6Al-4V", "5G", "pH", "HPLC", "MEMS", "ITO", "RCO"])
def test_the_tokeniser_keeps_an_exact_term_whole_and_case_folded(term):
    tokenizer = Tokenizer(["vocs治理", "5g基站"])  # dictionary words that glue a term to Chinese
    folded = term.lower()
    assert tokenizer.tokenize(term) == tokenizer.tokenize(folded) == [folded]
    in_text = tokenizer.tokenize(f"采用{term}治理技术，在5G基站与{term}检测中应用。")
    assert folded in in_text and "5g" in in_text
    assert not [token for token in in_text if token != folded and token in folded]  # no piece of it


def test_stop_words_leave_queries_and_documents_but_acronyms_stay():
    tokenizer = Tokenizer()
    tokens = tokenizer.tokenize("我们公司想找一家能处理VOCs废气问题的合作方，需要提供相关技术方面的方案")
    assert "vocs" in tokens and "废气" in tokens
    assert not set(tokens) & STOPWORDS, set(tokens) & STOPWORDS
    assert tokenizer.tokenize("it is based on the data of IT services") == ["data", "it", "services"]


@pytest.mark.parametrize("term", TERMS)
def test_a_short_query_finds_the_records_that_use_its_term_first(engine, term):
    """Every record holding the term ranks above every record that does not, for the term alone and in a short phrase."""
    expected = holders(term)
    for query in (term, f"{term}技术", f"找{term}相关的合作"):
        found = [m.id for m in engine.search_text("achievements", query, k=10)]
        titles = [CORPUS[i - 1]["title"] for i in found]
        assert set(found[: len(expected)]) == expected, (query, titles)


def test_matched_terms_hold_no_stop_words(engine):
    query = "我们公司想找一家能处理喷涂车间VOCs废气问题的单位，希望提供催化燃烧相关的技术"
    found = engine.search_text("achievements", query, k=5)
    assert found[0].id == IDS["vocs_rco"]
    assert "vocs" in found[0].matched_terms
    for match in found:
        assert not set(match.matched_terms) & STOPWORDS, match.matched_terms

