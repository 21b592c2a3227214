"""English and mixed queries read in Chinese (app/matching/translate.py): the translator alone, and the
engine with the real encoder over the test records (tests/data/exact_terms.jsonl, csl_sample.jsonl and
translation.jsonl, all in simplified Chinese).

The English queries were written for these records, not taken from scripts/evaluate.py's English
titles. Two of the queries first written are not here: the dictionary lacks "diesel" alone and
"superoxide dismutase", and those records are not found first.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from engine_support import achievements_engine

from app.matching.engine import MatchEngine
from app.matching.relevance import POSSIBLE, STRONG, relevance
from app.matching.translate import translate

DATA = Path(__file__).parent / "data"
CORPUS = [json.loads(line) for name in ("exact_terms.jsonl", "csl_sample.jsonl", "translation.jsonl")
          for line in (DATA / name).open(encoding="utf-8")]
IDS = {record.get("key") or record["id"]: number for number, record in enumerate(CORPUS, start=1)}


def no_records(word: str) -> int:
    return 0


ENGLISH = [
    ("battery heating at low temperature", "battery_heating"),
    ("corn straw polylactic acid", "straw_pla"),
    ("ginseng saponin extraction", "ginseng_saponin"),
    ("catalytic combustion purification of organic waste gas from spray painting", "vocs_rco"),
    ("biofilter deodorization for sewage plants", "odour"),
    ("dioxin control in waste incineration flue gas", "dioxin"),
    ("ozone catalytic treatment of printing and dyeing wastewater", "cod_dyeing"),
    ("sludge dewatering and reduction", "sludge"),
    ("rural domestic sewage treatment equipment", "rural_sewage"),
    ("membrane bioreactor water reuse", "mbr"),
    ("antioxidant peptides from corn by enzymatic hydrolysis", "peptide"),
    ("tea polyphenol extraction", "tea"),
    ("supercritical carbon dioxide extraction of sea buckthorn oil", "seabuckthorn"),
    ("photocatalytic air purifier for indoor formaldehyde", "formaldehyde"),
    ("micro-arc oxidation coating on titanium implants", "ti_implant"),
    ("directional solidification casting of superalloy turbine blades", "superalloy"),
    ("deformation control in high-speed milling of thin-walled aluminium parts", "al_milling"),
    ("degradable magnesium alloy bone screws", "mg_screw"),
    ("gallium nitride RF power amplifier chip for base stations", "5g_pa"),
    ("automotive millimeter wave radar chip", "mmwave"),
    ("BeiDou high-precision positioning for autonomous farm machinery", "beidou"),
    ("optical fiber sensing for pipeline leak monitoring", "fibre"),
    ("dust monitoring and spray suppression at construction sites", "dust_site"),
    ("Application of vertical greening in urban road landscape design", "csl-dev-0050"),
    ("Chitosan and pectinase in the clarification of red wine", "csl-dev-0425"),
    ("Image retrieval based on fusion of local and global features", "csl-dev-0500"),
    ("Experimental study of nozzle atomization characteristics", "csl-dev-0625"),
    ("Coupled finite element and boundary element method for the Navier-Stokes equations", "csl-dev-0900"),
    # Mixed: an acronym or Chinese words beside English ones.
    ("VOCs catalytic combustion", "vocs_rco"),
    ("印染废水 ozone catalytic oxidation", "cod_dyeing"),
    ("钛合金 laser melting", "ti_slm"),
]
TRADITIONAL = [
    ("動力電池低溫加熱", "battery_heating"),
    ("玉米秸稈製備聚乳酸", "straw_pla"),
    ("人參皂苷提取純化", "ginseng_saponin"),
    ("蓄熱式催化燃燒凈化裝置", "vocs_rco"),
    ("農村生活污水處理設備", "rural_sewage"),
    ("沙棘果油超臨界萃取", "seabuckthorn"),
]


# -- the translator alone ------------------------------------------------------------------------


def test_the_longest_phrase_wins_and_stop_words_go():
    assert translate("low temperature", no_records) == "低温"  # not 低 温度
    assert translate("battery heating at low temperature", lambda word: {"加热": 3}.get(word, 0)) == "电池 加热 低温"
    assert translate("supercritical carbon dioxide", no_records) == "超临界 二氧化碳"
    assert translate("the of and", no_records) == ""


def test_inflected_derived_and_compound_words_reach_their_gloss():
    assert translate("batteries", no_records) == translate("battery", no_records) == "电池"
    assert translate("purification", no_records) == translate("purify", no_records) == "净化"
    # "extraction" is glossed only as mining's 回采: when no record holds it, "extract" is read too
    assert translate("extraction", lambda word: {"提取": 2}.get(word, 0)) == "提取"
    assert translate("extraction", lambda word: {"回采": 2, "提取": 2}.get(word, 0)) == "回采"
    assert translate("wastewater", no_records) == "废水"  # waste water


def test_the_headword_most_records_hold_is_chosen():
    # monitoring, monitor: 剂量监控, 监控, 监测, 监视, 显示器, ...; without records, jieba's most frequent
    assert translate("monitoring", lambda word: {"监测": 5, "监控": 1}.get(word, 0)) == "监测"
    assert translate("monitoring", lambda word: {"监测": 1, "监控": 5}.get(word, 0)) == "监控"
    assert translate("monitoring", no_records) == "监视"


@pytest.mark.parametrize("query", ["VOCs", "COD", "PM2.5", "Ti-6Al-4V", "5G", "pH", "LiFePO4", "MEMS",
                                   "VOCs COD PM2.5 Ti-6Al-4V 5G", "采用VOCs治理技术，在5G基站与pH检测中应用。",
                                   # beside Chinese, a lone capitalised word is a name or a symbol
                                   "一种嵌入式Java芯片内核", "基于RDF的Web挖掘系统", "对Pb、Cd污染的指示", "苏丹红I~IV号含量",
                                   "Navier-Stokes方程的有限元边界元耦合方法"])
def test_acronyms_formulas_names_and_model_numbers_stay_as_they_are(query):
    assert translate(query, no_records) == query


def test_english_beside_acronyms_and_chinese_is_translated_in_place():
    assert translate("VOCs catalytic combustion", lambda word: {"催化": 1}.get(word, 0)) == "VOCs 催化 燃烧"
    assert translate("印染废水ozone处理", no_records) == "印染废水臭氧处理"
    assert translate("Ti-6Al-4V laser 工艺", no_records) == "Ti-6Al-4V 激光 工艺"


def test_words_the_dictionary_lacks_stay_as_written():
    assert translate("qwerty", no_records) == "qwerty"
    assert translate("Wuhu bridge", no_records) == "Wuhu 桥梁"
    assert translate("the Navier-Stokes equations", no_records).startswith("Navier-Stokes ")


def test_english_that_records_hold_stays_beside_its_translation():
    chinese = translate("review", no_records)
    assert translate("a review", lambda word: {"review": 3}.get(word, 0)) == f"a review {chinese}"
    assert translate("review of fu", lambda word: {"review": 3}.get(word, 0)) == f"{chinese} fu"  # no record says fu


@pytest.mark.parametrize("query", ["低温电池加热技术", "需要处理印染废水的COD", "", "，。！"])
def test_a_query_without_english_words_is_the_same_string(query):
    assert translate(query, no_records) is query


# -- the engine, real encoder ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine() -> MatchEngine:
    return achievements_engine(CORPUS)  # numbered as IDS numbers them


@pytest.mark.parametrize(("query", "key"), ENGLISH + TRADITIONAL)
def test_an_english_or_traditional_query_finds_its_simplified_record_first(engine, query, key):
    found = engine.search_text("achievements", query, k=5)
    assert found[0].id == IDS[key], (engine.query_text("achievements", query), [CORPUS[m.id - 1]["title"] for m in found])


def best_relevance(engine: MatchEngine, query: str) -> float:
    return max(relevance(m.dense_score, m.lexical_coverage, m.bm25_score) for m in engine.search_text("achievements", query, k=10))


def test_relevance_reads_the_translation(engine):
    """An English query's match is rated as its Chinese rendering's is; English nonsense stays no good match."""
    for query in ("battery heating at low temperature", "supercritical carbon dioxide extraction of sea buckthorn oil"):
        assert best_relevance(engine, query) >= STRONG, engine.query_text("achievements", query)
    for query in ("hello world", "qwerty"):
        assert best_relevance(engine, query) < POSSIBLE


def test_saved_searches_rate_the_translation_as_the_search_does(engine):
    query = "battery heating at low temperature"
    first = engine.search_text("achievements", query, k=1)[0]
    cosine, bm25, coverage = engine.rate_texts("achievements", [query], [first.id])
    np.testing.assert_allclose([cosine[0, 0], bm25[0, 0], coverage[0, 0]],
                               [first.dense_score, first.bm25_score, first.lexical_coverage], rtol=1e-5)
