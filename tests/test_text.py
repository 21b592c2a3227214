"""Text normalisation: the converter is skipped only where it would change nothing."""

import json
import unicodedata
from pathlib import Path

from opencc import OpenCC

from app.matching.text import _t2s, normalize

CORPUS = [json.loads(line) for line in (Path(__file__).parent / "data" / "csl_sample.jsonl").open(encoding="utf-8")]


def test_normalize_gives_what_the_converter_gives_on_every_text():
    converter = OpenCC("t2s")
    texts = [text for row in CORPUS for text in (row["title"], row["abstract"])] + [
        "動力電池低溫熱管理與快速預熱技術", "反覆試驗，一目瞭然", "回覆函覆", "以免藉口", "ＰＭ２．５ 監測",
        "纯电动乘用车冬季续航衰减", "VOCs治理 5G基站",
    ]
    for text in texts:
        assert normalize(text) == " ".join(converter.convert(unicodedata.normalize("NFKC", text)).split()), text
    _, triggers = _t2s()
    assert {"動", "覆", "瞭", "藉"} <= triggers and not triggers & set("纯电动乘用车冬季续航衰减的了是")
    assert normalize("反覆试验") == "反复试验" and normalize("動力電池") == "动力电池"
