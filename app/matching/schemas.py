"""Request and response bodies for matching."""

from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from app.achievements.schemas import READ_EXAMPLE as ACHIEVEMENT
from app.listings.schemas import ListingFilters
from app.schemas import RegionCode
from app.sides import SideName

MAX_K = 100
# Query parameters of a match that are options, not filters.
MATCH_OPTIONS = {"k", "prefer_region", "include_weak"}
INCLUDE_WEAK = Field(False, description='list the weak matches even when none reaches the "possible" band')


class MatchQuery(ListingFilters):
    """The options of a match by record; match_query_model adds the target list's own filters."""

    k: int = Field(10, ge=1, le=MAX_K, description="how many matches")
    prefer_region: RegionCode | None = Field(None, description="rank records in this region first")
    include_weak: bool = INCLUDE_WEAK


@cache
def match_query_model(filters: type[ListingFilters]) -> type[MatchQuery]:
    """The query parameters of a match by record: the target list's filters plus the options
    (one model per list, built once: record pages ask for it on every view).

    MatchQuery comes first among the bases so the options stay the last query parameters.
    """
    # Built at run time: create_model()'s signature wants every base to be the result's type, but
    # `filters` is a sibling of MatchQuery, not a subclass.
    return create_model(
        f"{filters.__name__.removesuffix('Filters')}MatchQuery", __base__=(MatchQuery, filters)  # type: ignore[arg-type]
    )


class FactorRead(BaseModel):
    factor: str = Field(description="field | region | mode | budget | maturity | freshness")
    effect: float = Field(description="added to the score")
    detail: str


class Explanation(BaseModel):
    matched_terms: list[str] = Field(description="terms found in both texts")
    query_highlight: str = Field(description="the query or source text, matched terms in <em>")
    record_highlight: str = Field(description="the matched record's text, matched terms in <em>")
    shared_fields: list[str]
    text_relevance: float = Field(description="fused dense + BM25 relevance in [0,1], before adjustments")
    semantic_similarity: float = Field(description="cosine similarity of the two texts' embeddings")
    lexical_score: float = Field(description="raw BM25 score of the record for the query terms")
    lexical_coverage: float = Field(
        description="lexical_score divided by the most any record could score for the query terms, in [0,1]"
    )
    factors: list[FactorRead]


class MatchItem(BaseModel):
    id: int
    score: float = Field(ge=0, le=1, description="ranks the matches of this request; not comparable across requests")
    relevance: float = Field(
        ge=0, le=1, description="absolute relevance, comparable across requests, sides and filters (see README)"
    )
    band: Literal["strong", "possible", "weak"] = Field(
        description="strong: very likely answers the query; possible: worth reading; weak: not a match to forward"
    )
    record: dict[str, Any] = Field(description="the matched record, as its own endpoint returns it")
    explanation: Explanation


# The best achievement for demand 12 (玉米秸秆制备聚乳酸的低成本工艺); relevance, band and score are
# what the ranking gives these similarities and factors.
MATCH_EXAMPLE: dict[str, Any] = {
    "target": "achievements",
    "source": {"side": "demands", "id": 12},
    "items": [
        {
            "id": 34,
            "score": 0.9363,
            "relevance": 0.7684,
            "band": "strong",
            "record": ACHIEVEMENT,
            "explanation": {
                "matched_terms": ["秸秆", "聚乳酸", "糖化", "纤维素", "低成本"],
                "query_highlight": "玉米<em>秸秆</em>制备<em>聚乳酸</em>的<em>低成本</em>工艺 "
                "玉米<em>秸秆</em> <em>聚乳酸</em> 酶解<em>糖化</em> "
                "我公司年处理玉米<em>秸秆</em>20万吨,拟以<em>秸秆</em><em>纤维素</em>为原料经<em>糖化</em>、"
                "发酵制备L-乳酸并聚合为<em>聚乳酸</em>(PLA)。"
                "现有酶解<em>糖化</em>成本过高,需要<em>低成本</em>预处理与高效酶解工艺,"
                "使<em>聚乳酸</em>吨成本降至1.5万元以下。",
                "record_highlight": "<em>秸秆</em><em>纤维素</em><em>低成本</em><em>糖化</em>制备L-乳酸技术 "
                "<em>秸秆</em> L-乳酸 <em>纤维素</em>酶 <em>聚乳酸</em> "
                "采用稀碱-蒸汽爆破联合预处理与复合<em>纤维素</em>酶高效酶解,<em>秸秆</em><em>糖化</em>率达85%以上,"
                "经耐高温凝结芽孢杆菌发酵制得高光学纯度L-乳酸,可用于<em>聚乳酸</em>生产,已完成百吨级中试。",
                "shared_fields": ["agri_corn_straw", "bio_based_materials"],
                "text_relevance": 0.7863,
                "semantic_similarity": 0.89,
                "lexical_score": 7.4,
                "lexical_coverage": 0.52,
                "factors": [
                    {"factor": "field", "effect": 0.05, "detail": "共同领域 shared field: 玉米/秸秆、生物基材料"},
                    {"factor": "mode", "effect": 0.03, "detail": "合作方式一致 compatible mode: transfer, development"},
                    {"factor": "budget", "effect": 0.03, "detail": "预算与价格区间重叠 budget and price overlap"},
                    {"factor": "maturity", "effect": 0.02, "detail": "成熟度 maturity: 中试"},
                    {"factor": "freshness", "effect": 0.02, "detail": "近期发布 published in the last 90 days"},
                ],
            },
        }
    ],
    "no_good_match": False,
    "reason": None,
    "pending_changes": 0,
}


class MatchResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [MATCH_EXAMPLE]})

    target: SideName
    source: dict[str, Any] | None = Field(description='{"side": ..., "id": ...} for a match by record; null for free text')
    items: list[MatchItem] = Field(description='empty when no_good_match, unless include_weak')
    no_good_match: bool = Field(description='no candidate reaches the "possible" band (or none passes the filters)')
    reason: str | None = Field(description="why there is no good match (Chinese / English); null otherwise")
    pending_changes: int = Field(description="committed changes not yet in the index (0: everything is visible)")


class TextMatchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "text": "电动汽车冬季续航衰减，需要电池低温热管理方案",
                    "target": "achievements",
                    "k": 10,
                    "filters": {"field": ["new_energy"], "maturity": ["pilot", "industrial"]},
                    "prefer_region": "220100",
                }
            ]
        },
    )

    text: str = Field(min_length=1, max_length=20_000)
    target: SideName
    k: int = Field(10, ge=1, le=MAX_K)
    filters: dict[str, Any] = Field({}, description="the target list's filters (field, region, mode, maturity, price/budget range, …)")
    prefer_region: RegionCode | None = Field(None, description="rank records in this region first")
    include_weak: bool = INCLUDE_WEAK


class DuplicateWarning(BaseModel):
    type: Literal["near_duplicate"] = "near_duplicate"
    id: int
    title: str
    similarity: float
    msg: str
