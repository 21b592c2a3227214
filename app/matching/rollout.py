"""Encoder rollouts (编码器切换): the old encoder's vectors keep serving while the new one's are made.

Changing TECHMATCH_ENCODER, its backend or its token limit changes the encoder name, and the
stored vectors are per name (store.py). A process starting with an encoder whose rows cover
fewer published records than those of another encoder it can load (registered in
`stored_encoders`, its directory in this machine's models folder) serves that *previous*
encoder and names the configured one its *successor* (`IndexKeeper.open`). Encoding processes
keep the previous encoder's rows current as always and store the successor's, batch by batch,
in their worker passes (`IndexKeeper.encode_successor`); every process, serve replicas too,
switches to the successor once its rows cover every published record (`IndexKeeper.switch`).
An index never mixes two encoders.
"""

import logging
from pathlib import Path
from typing import NamedTuple, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.database import upsert, utcnow
from app.matching import store
from app.matching.encoder import Backend, Encoder, encoder_name
from app.matching.models import StoredEncoder

log = logging.getLogger("techmatch.index")

BACKENDS: tuple[Backend, ...] = get_args(Backend)


class EncoderSetup(NamedTuple):
    """What loading an encoder takes: its directory, backend, token limit and prefixes (the vectors
    depend on each of them) and its threads (they do not)."""

    directory: Path
    backend: Backend
    max_tokens: int
    query_prefix: str
    document_prefix: str
    threads: int

    @classmethod
    def configured(cls, settings: Settings) -> "EncoderSetup":
        return cls(Path(settings.encoder), settings.encoder_backend, settings.encoder_max_tokens,
                   settings.encoder_query_prefix, settings.encoder_document_prefix, settings.encoder_threads)

    @property
    def name(self) -> str:
        """The name `load_encoder` gives it here (the int8 copy falls back to torch where it is missing)."""
        return encoder_name(self.directory, self.backend, self.max_tokens)


def register(session: Session, setup: EncoderSetup, encoder: Encoder) -> None:
    """Record how the vectors stored under `encoder`'s name are made (`encoder` being `setup`'s),
    in the caller's transaction; idempotent. The backend recorded is the one that made them:
    torch where the int8 copy was missing, whose name then is torch's."""
    backend = "torch" if encoder.name == encoder_name(setup.directory, "torch", setup.max_tokens) else setup.backend
    upsert(session, StoredEncoder, [{
        "name": encoder.name, "directory": setup.directory.name, "backend": backend, "max_tokens": setup.max_tokens,
        "query_prefix": setup.query_prefix, "document_prefix": setup.document_prefix, "dim": encoder.dim,
        "registered_at": utcnow(),
    }], ["name"])


def previous(session: Session, configured: EncoderSetup) -> EncoderSetup | None:
    """The encoder to serve while `configured`'s vectors are made, or None (serve `configured`).

    Among the registered encoders this machine can load (the model directory of that name sits
    beside the configured one, and gives the same encoder name here), the one whose rows cover
    the most published records, if that is more than the configured encoder's rows cover. Rows
    are counted only when such an encoder exists (one grouped count per side; otherwise a start
    reads only this small table).
    """
    loadable = {}
    for row in session.scalars(select(StoredEncoder).where(StoredEncoder.name != configured.name)):
        if row.backend not in BACKENDS:
            continue
        setup = EncoderSetup(configured.directory.parent / row.directory, row.backend, row.max_tokens,
                             row.query_prefix, row.document_prefix, configured.threads)
        if setup.name == row.name and _is_model(setup.directory):
            loadable[row.name] = setup
    if not loadable:
        return None
    covered = store.coverage(session, encoders=[configured.name, *loadable])
    best = max(loadable, key=covered.__getitem__)
    if covered[best] <= covered[configured.name]:
        return None
    log.info("encoder %s has vectors for %d published records, %s for %d: serving %s until %s has them all "
             "(encoding processes store them in the background)", configured.name, covered[configured.name], best,
             covered[best], best, configured.name)
    return loadable[best]


def _is_model(directory: Path) -> bool:
    """Whether `directory` holds a sentence-transformers model (what `load_encoder` looks for)."""
    return (directory / "modules.json").is_file() or (directory / "config.json").is_file()
