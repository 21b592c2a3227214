"""The matching engine as tests build it without a database: the configured encoder, and an engine
over a list of test records."""

from pathlib import Path

from app.config import Settings
from app.matching.encoder import Encoder
from app.matching.engine import MatchEngine
from app.matching.keeper import cached_encoder


def configured_encoder() -> Encoder:
    """The encoder the service would load (one per process: the keeper's cache)."""
    settings = Settings()
    return cached_encoder(Path(settings.encoder), settings.encoder_query_prefix, settings.encoder_document_prefix,
                          settings.encoder_threads, settings.encoder_backend)


def achievements_engine(records: list[dict]) -> MatchEngine:
    """An engine holding `records` (title, keywords, abstract) as achievements 1, 2, … in their order,
    their keywords taught to the tokenizer as the service teaches a record's keywords."""
    engine = MatchEngine(configured_encoder())
    engine.add_terms(keyword for record in records for keyword in record["keywords"])
    engine.upsert_many("achievements", [(number, r["title"], r["keywords"], r["abstract"]) for number, r in enumerate(records, start=1)])
    return engine
