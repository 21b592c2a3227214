"""Sentence encoders: a small interface and a local sentence-transformers implementation.

The rest of the engine only needs `name`, `dim` and two encode methods, so a
different model (or a test double) can be swapped in without touching the
indexes. Vectors are float32 and L2-normalised, so inner product = cosine.
"""

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

DEFAULT_MAX_SEQ_LENGTH = 256
"""Token limit per text. m3e-small allows 512; on the CSL papers (median 230
tokens) 512 gave the same ranking quality (same-discipline P@10 0.285 vs
0.286, `scripts/evaluate.py --max-seq-length 512`) while encoding ~15 % fewer
documents per second, so records are cut at 256 tokens."""


REMEMBERED_DOCUMENTS = 1024
"""Document encodings an encoder keeps (about 2 MB at 512 dimensions). The same record text is
encoded again for its near-duplicate check and then for the index, when a record is withdrawn
and republished, and by every engine a process opens on the same encoder (CLI commands,
tests); a remembered text costs nothing the second time."""


class EncoderNotFoundError(RuntimeError):
    """The model directory is missing or is not a sentence-transformers model."""


class Encoder(Protocol):
    name: str
    dim: int

    def encode_documents(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Encode stored records; returns (n, dim) float32 unit rows."""

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode search texts; returns (n, dim) float32 unit rows."""


class SentenceTransformerEncoder:
    """Wraps a SentenceTransformer loaded from a local directory, on CPU."""

    def __init__(self, model: Any, name: str, query_prefix: str, document_prefix: str, batch_size: int = 32):
        self._model = model
        self.name = name
        self.dim = int(model.get_embedding_dimension())
        self.max_seq_length = int(model.max_seq_length)
        self._query_prefix = query_prefix
        self._document_prefix = document_prefix
        self._batch_size = batch_size
        self._remembered: OrderedDict[str, np.ndarray] = OrderedDict()
        self._remembered_lock = threading.Lock()

    def _encode(self, texts: Sequence[str], prefix: str, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            [prefix + text for text in texts],
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_documents(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Encode record texts, reusing the last REMEMBERED_DOCUMENTS texts' vectors."""
        with self._remembered_lock:
            known = {text: self._remembered[text] for text in texts if text in self._remembered}
            for text in known:
                self._remembered.move_to_end(text)
        missing = [text for text in dict.fromkeys(texts) if text not in known]
        if missing:
            fresh = dict(zip(missing, self._encode(missing, self._document_prefix, show_progress), strict=True))
            known.update(fresh)
            with self._remembered_lock:
                self._remembered.update(fresh)
                while len(self._remembered) > REMEMBERED_DOCUMENTS:
                    self._remembered.popitem(last=False)
        return np.stack([known[text] for text in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prefix, False)


def load_encoder(
    path: str | os.PathLike[str],
    query_prefix: str = "",
    document_prefix: str = "",
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
    threads: int | None = 1,
) -> Encoder:
    """Load a sentence-transformers directory strictly offline (no hub access, CPU).

    `threads` sets torch's intra-op threads (None leaves torch's default). One
    thread is the default because the model shares the CPU with the web
    server, the database and background indexing: on 2 cores with one busy,
    a 2-thread forward pass of a short query took about 360 ms (threads
    wait for each other at every layer) against 19 ms with one thread.

    The encoder name is the directory name; it is stored with each index so an
    index built by one model is never queried with vectors from another.
    """
    directory = Path(path)
    if not (directory / "modules.json").is_file() and not (directory / "config.json").is_file():
        raise EncoderNotFoundError(
            f"no sentence encoder at {directory}: run `python models/fetch_encoder.py` "
            "(done automatically by `make run`) or point TECHMATCH_ENCODER at a "
            "local sentence-transformers directory"
        )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    if threads:
        torch.set_num_threads(threads)

    model = SentenceTransformer(str(directory), device="cpu", local_files_only=True)
    model.max_seq_length = min(max_seq_length, model.max_seq_length or max_seq_length)
    model.eval()
    return SentenceTransformerEncoder(model, directory.name, query_prefix, document_prefix)
