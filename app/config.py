"""Settings, read from `TECHMATCH_*` environment variables."""

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.matching.encoder import DEFAULT_BACKEND, DEFAULT_MAX_SEQ_LENGTH, Backend

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything that differs between a laptop, CI and production."""

    model_config = SettingsConfigDict(env_prefix="TECHMATCH_")

    data_dir: Path = Path("data")
    # What this process does: `all` (one process serves HTTP and does the bulk work: `make run`),
    # `serve` (HTTP only: follows the change log, encodes queries and its own writes) or `worker`
    # (no HTTP: encodes pending changes, runs imports, the webhook outbox and the reminders).
    # `techmatch serve` and `techmatch worker` set it; on PostgreSQL any number of each may run.
    role: Literal["all", "serve", "worker"] = "all"
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 1_048_576
    log_level: str = "INFO"
    # Requests served at once (each holds at most one database connection), and how long a
    # further request waits for a turn before it gets 503 with Retry-After. Matching and encoding
    # are CPU-bound: three per core keeps the cores busy, and the rest wait in line (first come,
    # first served) instead of slowing everyone down. Measured with scripts/bench_load.py at 16
    # clients on 2 cores (PostgreSQL): 6 slots 37 req/s, p99 0.87 s; 16 slots 32 req/s, p99 2.4 s.
    max_concurrent_requests: int = Field(default_factory=lambda: 3 * (os.cpu_count() or 2))
    request_wait_seconds: float = 10.0

    # Matching: any local sentence-transformers directory; m3e-small is fetched by `make run`.
    encoder: Path = REPO_ROOT / "models" / "m3e-small"
    encoder_query_prefix: str = ""
    encoder_document_prefix: str = ""
    # How the encoder runs: `torch` (fp32) or `onnx-int8` (the int8 ONNX Runtime copy built by
    # `make setup`, used when it exists and passed its quality gate, else torch with a log line).
    # The two give different encoder names (their vectors are stored apart; after a switch the old
    # vectors serve until the new ones are all stored: matching/rollout.py). int8 is the default:
    # it passes its gate (mean cosine 0.997 to fp32), encodes 3.0 times as fast (69 against 23
    # abstracts/s on 2 cores, a title query in 2.8 ms against 15 ms: scripts/bench_encoder.py)
    # and ranks as fp32 does within 0.005 (scripts/evaluate.py --task all --halves --backend …:
    # demands MRR@10 0.780 against 0.783, R@1 0.708 both; titles P@10 0.298 both).
    encoder_backend: Backend = DEFAULT_BACKEND
    # Tokens of a record's text (title, keywords, then body) the encoder reads; longer texts are cut.
    # Another limit gives other vectors, hence another encoder name ("m3e-small@128"), and switching
    # encodes the stored vectors again in the background, as switching backends does.
    encoder_max_tokens: int = Field(DEFAULT_MAX_SEQ_LENGTH, ge=16, le=512)
    # Encoder threads. One keeps a short query fast while requests use the other core;
    # `techmatch reindex` uses every core for bulk encoding.
    encoder_threads: int = 1
    # Dense index: `auto` searches exactly (flat) below 20,000 vectors and with IVF cells above
    # (built in the background after a fresh start); `flat`, `ivf` or `hnsw` forces one kind. A
    # query scans the `index_nprobe` nearest of the 4·√n cells: at 10⁶, 128 of 4,000 (see README).
    index_kind: Literal["auto", "flat", "ivf", "hnsw"] = "auto"
    index_nprobe: int = Field(128, ge=1)
    index_save_every: int = 1000  # changes applied between two saves of the index files
    # Changes applied between two index snapshots an encoding process (role all/worker) stores in
    # a PostgreSQL database, when caught up, for new processes to start from (0: never; never on
    # SQLite). Each is the whole index (about 155 MB at 100,000 records); a starting process
    # replays the changes after it.
    index_snapshot_every: int = 2000
    index_worker_seconds: float = 2.0  # how often the background worker polls the change log

    # Bulk import: the upload cap (the general body cap does not apply to uploads), rows per file,
    # and rows per transaction (a crash loses at most one chunk's work, never half a row).
    import_max_bytes: int = 64 * 1024 * 1024  # one province's 60,000 achievements is ~25 MB of .xlsx
    import_max_rows: int = 100_000
    import_chunk_rows: int = 200
    # Import jobs are leased to one worker process: the lease lasts `import_lease_seconds` and its
    # owner extends it with every chunk and every `import_heartbeat_seconds` while a chunk runs;
    # the job of a worker that died is taken over by another once its lease has expired. Workers
    # look for jobs queued through other processes every `import_poll_seconds`.
    import_lease_seconds: float = 60.0
    import_heartbeat_seconds: float = 10.0
    import_poll_seconds: float = 2.0

    # Webhooks: how often the outbox worker polls, the send timeout, and the retry schedule
    # (backoff doubles from `webhook_backoff_seconds` up to the cap; failed after max attempts).
    outbox_worker_seconds: float = 1.0
    webhook_timeout_seconds: float = 5.0
    webhook_max_attempts: int = 8
    webhook_backoff_seconds: float = 10.0
    webhook_backoff_max_seconds: float = 3600.0

    # Milestone reminders: how often the due dates are scanned, and how many days ahead the
    # winner is reminded (overdue milestones are notified to both parties once).
    milestone_check_seconds: float = 3600.0
    milestone_reminder_days: int = 7

    # Standing matchmaking (app/dispatch): how often the worker polls, changes per transaction,
    # counterparts ranked per record (the strong ones are announced), `new_match` notices an
    # organization receives per China day before the rest wait for its daily digest, and the
    # results a saved search's run ranks.
    dispatch_worker_seconds: float = 5.0
    dispatch_batch: int = 100
    dispatch_matches: int = 20
    dispatch_daily_cap: int = 20
    saved_search_results: int = 20

    # The web workspace (app/web): how long a sign-in lasts, when repeated failures lock an account
    # and for how long, and whether the session cookie is `Secure` (`auto`: when the request came
    # over https, as a proxy that sets X-Forwarded-Proto tells uvicorn with --proxy-headers).
    web_session_hours: float = 12.0
    web_lock_after: int = 5
    web_lock_minutes: float = 15.0
    web_secure_cookies: Literal["auto", "always", "never"] = "auto"
    # Digest e-mail, off unless `smtp_host` is set: each daily digest is also mailed, by a worker,
    # to the addresses in the organization's dispatch settings, else to its contact e-mail.
    # `smtp_security`: `starttls` (port 587), `ssl` (implicit TLS, port 465) or `none` (a local
    # relay). Failed sends are retried with doubling backoff, then given up and logged.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "techmatch@localhost"
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_timeout_seconds: float = 30.0
    smtp_max_attempts: int = 8
    smtp_backoff_seconds: float = 60.0
    smtp_backoff_max_seconds: float = 6 * 3600.0
    # Where people reach the service (e.g. https://kjcg.jl.gov.cn), for the links in e-mails; ids only when unset.
    public_url: str | None = None

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @cached_property
    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file in the data directory (the embedded default)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'techmatch.db').resolve()}"
