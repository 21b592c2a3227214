"""Encoder rollouts (编码器切换): the old encoder's vectors keep serving while the new one's are made.

Changing TECHMATCH_ENCODER, its backend or its token limit changes the encoder name, and the
stored vectors are per name (store.py). Every encoder whose vectors are stored is registered in
`stored_encoders` with what loading it again takes, and the deployment's served encoder is
marked there (`served_since`). A process configured with another encoder than the one served
most recently, when it can load that one (its directory in this machine's models folder), serves
it and names the configured one its *successor* (`IndexKeeper.open`). Encoding processes keep
the served encoder's rows current as always and store the successor's, batch by batch, in their
worker passes (`IndexKeeper.encode_successor`); the first to find the successor's rows complete
marks it served and switches, and every other process, serve replicas too, switches when it sees
the mark (`IndexKeeper.switch`). An index never mixes two encoders, and a start reads only the
small registry table.
"""

import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import get_args

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.database import upsert, utcnow
from app.matching.encoder import Backend, Encoder, encoder_name, is_model_directory
from app.matching.models import StoredEncoder

log = logging.getLogger("techmatch.index")

BACKENDS: tuple[Backend, ...] = get_args(Backend)


@dataclass(frozen=True)
class EncoderSetup:
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

    @cached_property
    def name(self) -> str:
        """The name `load_encoder` gives it here (the int8 copy falls back to torch where it is
        missing): found once, since it reads the int8 build's record."""
        return encoder_name(self.directory, self.backend, self.max_tokens)


def register(session: Session, setup: EncoderSetup, encoder: Encoder, *, first: bool = False) -> None:
    """Record how the vectors stored under `encoder`'s name are made (`encoder` being `setup`'s),
    in the caller's transaction; idempotent. The backend recorded is the one that made them:
    torch where the int8 copy was missing, whose name then is torch's. With `first` (an encoding
    process starting) it is marked served when no encoder is: the first of a deployment."""
    backend = "torch" if encoder.name == encoder_name(setup.directory, "torch", setup.max_tokens) else setup.backend
    upsert(session, StoredEncoder, [{
        "name": encoder.name, "directory": setup.directory.name, "backend": backend, "max_tokens": setup.max_tokens,
        "query_prefix": setup.query_prefix, "document_prefix": setup.document_prefix, "dim": encoder.dim,
        "registered_at": utcnow(),
    }], ["name"])
    if first and session.scalar(select(StoredEncoder.name).where(StoredEncoder.served_since.is_not(None)).limit(1)) is None:
        mark_served(session, encoder.name)


def mark_served(session: Session, name: str) -> None:
    """Make `name` the encoder served most recently: its vectors are complete (`IndexKeeper.switch`)."""
    session.execute(update(StoredEncoder).where(StoredEncoder.name == name).values(served_since=utcnow()))


def took_over(session: Session, *, successor: str, serving: str) -> bool:
    """Whether an encoding process marked `successor` served after `serving`."""
    since = dict(session.execute(
        select(StoredEncoder.name, StoredEncoder.served_since).where(StoredEncoder.name.in_([successor, serving]))
    ).all())
    new, old = since.get(successor), since.get(serving)
    return new is not None and (old is None or new > old)


def previous(session: Session, configured: EncoderSetup) -> EncoderSetup | None:
    """The encoder to serve while `configured`'s vectors are made, or None (serve `configured`).

    The encoder served most recently, when it is not the configured one and this machine can
    load it: the model directory of that name sits beside the configured one and gives the same
    encoder name here. Its prefixes are the registered ones, or the configured ones where none
    were registered.
    """
    latest = session.scalars(
        select(StoredEncoder).where(StoredEncoder.served_since.is_not(None)).order_by(StoredEncoder.served_since.desc()).limit(1)
    ).first()
    if latest is None or latest.name == configured.name or latest.backend not in BACKENDS:
        return None
    setup = EncoderSetup(
        configured.directory.parent / latest.directory, latest.backend, latest.max_tokens,
        configured.query_prefix if latest.query_prefix is None else latest.query_prefix,
        configured.document_prefix if latest.document_prefix is None else latest.document_prefix, configured.threads,
    )
    if setup.name != latest.name or not is_model_directory(setup.directory):
        log.warning("encoder %s, served until now, cannot be loaded here (no model at %s): serving %s, whose vectors "
                    "encoding processes store meanwhile", latest.name, setup.directory, configured.name)
        return None
    log.info("encoder %s is configured, %s is served: serving %s until %s's vectors are all stored "
             "(encoding processes store them in the background)", configured.name, latest.name, latest.name, configured.name)
    return setup
