"""Sentence encoders: a small interface and two local implementations of it.

The rest of the engine only needs `name`, `dim` and two encode methods, so a
different model (or a test double) can be swapped in without touching the
indexes. Vectors are float32 and L2-normalised, so inner product = cosine.

`torch` runs the sentence-transformers model as published (fp32). `onnx-int8`
runs the copy that `models/build_onnx.py` exports, fuses and quantises into
`<encoder>/onnx-int8/` at setup: three times as fast (scripts/bench_encoder.py),
at a mean cosine of 0.997 to the fp32 vectors; the build measures it, and below
0.98 the default int8 backend falls back to torch. The two give slightly
different vectors, so their names differ and an index built by one is refused by
the other.
"""

import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

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

REMEMBERED_QUERIES = 4096
"""Query encodings an encoder keeps (about 8 MB at 512 dimensions): saved searches run the same
texts again at every run, so a thousand subscriptions are encoded once, not once per run."""


ONNX_FOLDER = "onnx-int8"
"""Where models/build_onnx.py puts the int8 copy, inside the sentence-transformers directory
(re-fetching the model replaces the directory, and with it a copy built from older weights)."""

ONNX_BUILD_FILE = "build.json"
"""Written by the build next to the model: its sha256 and the quality gate's result."""

Backend = Literal["onnx-int8", "torch"]
DEFAULT_BACKEND: Backend = "onnx-int8"
"""int8 unless set otherwise (TECHMATCH_ENCODER_BACKEND): see app/config.py for the measurements."""

log = logging.getLogger("techmatch.encoder")


class EncoderNotFoundError(RuntimeError):
    """The model directory is missing or is not a sentence-transformers model."""


class EncoderIntegrityError(RuntimeError):
    """The built int8 model does not match the checksum its build recorded."""


class Encoder(Protocol):
    name: str
    dim: int

    def encode_documents(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Encode stored records; returns (n, dim) float32 unit rows."""

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode search texts; returns (n, dim) float32 unit rows."""


class _RememberingEncoder:
    """What both implementations share: prefixes, and remembering the last texts encoded (documents
    and queries apart, since their prefixes may differ)."""

    name: str
    dim: int
    max_seq_length: int

    def __init__(self, query_prefix: str, document_prefix: str, batch_size: int):
        self._query_prefix = query_prefix
        self._document_prefix = document_prefix
        self._batch_size = batch_size
        self._remembered: OrderedDict[str, np.ndarray] = OrderedDict()
        self._remembered_queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._remembered_lock = threading.Lock()

    def _encode(self, texts: Sequence[str], prefix: str, show_progress: bool) -> np.ndarray:
        raise NotImplementedError

    def _encode_remembering(
        self, texts: Sequence[str], prefix: str, remembered: OrderedDict[str, np.ndarray], size: int, show_progress: bool
    ) -> np.ndarray:
        """Encode `texts`, reusing the vectors of the last `size` texts encoded with this prefix."""
        with self._remembered_lock:
            known = {text: remembered[text] for text in texts if text in remembered}
            for text in known:
                remembered.move_to_end(text)
        missing = [text for text in dict.fromkeys(texts) if text not in known]
        if missing:
            fresh = dict(zip(missing, self._encode(missing, prefix, show_progress), strict=True))
            known.update(fresh)
            with self._remembered_lock:
                remembered.update(fresh)
                while len(remembered) > size:
                    remembered.popitem(last=False)
        return np.stack([known[text] for text in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_documents(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Encode record texts, reusing the last REMEMBERED_DOCUMENTS texts' vectors."""
        return self._encode_remembering(texts, self._document_prefix, self._remembered, REMEMBERED_DOCUMENTS, show_progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode search texts, reusing the last REMEMBERED_QUERIES texts' vectors."""
        return self._encode_remembering(texts, self._query_prefix, self._remembered_queries, REMEMBERED_QUERIES, False)

    def encode_uncached(self, texts: Sequence[str]) -> np.ndarray:
        """Encode record texts afresh, neither reading nor filling the remembered vectors: what
        scripts/bench_encoder.py times, round after round on the same texts."""
        return self._encode(texts, self._document_prefix, False)


class SentenceTransformerEncoder(_RememberingEncoder):
    """Wraps a SentenceTransformer loaded from a local directory, on CPU (torch, fp32)."""

    BATCH_SIZE = 32

    def __init__(self, model: Any, name: str, query_prefix: str, document_prefix: str, batch_size: int = BATCH_SIZE):
        super().__init__(query_prefix, document_prefix, batch_size)
        self._model = model
        self.name = name
        self.dim = int(model.get_embedding_dimension())
        self.max_seq_length = int(model.max_seq_length)

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


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def onnx_build(directory: Path) -> dict[str, Any] | None:
    """The int8 copy's build record (checksum and quality gate), or None when it was never built."""
    record = directory / ONNX_FOLDER / ONNX_BUILD_FILE
    if not record.is_file():
        return None
    build: dict[str, Any] = json.loads(record.read_text(encoding="utf-8"))
    return build


class OnnxEncoder(_RememberingEncoder):
    """The int8 ONNX Runtime copy of a mean-pooled BERT encoder, built by models/build_onnx.py.

    Tokenises with the model's own fast tokenizer (tokenizer.json, the same one
    sentence-transformers uses, same truncation), sorts a call's texts by token
    count so each batch is padded only to its longest member, mean-pools over real tokens and
    normalises in float32. Checks the model file against the checksum its
    build recorded before loading it.
    """

    BATCH_SIZE = 8
    """Texts per forward pass. With texts sorted by length, small batches pad least and stay in
    cache: 300 abstracts on 2 threads, 69 abstracts/s at 8 against 63 at 32 (1 thread: 37
    against 33); 4 is no faster (scripts/bench_encoder.py --variants onnx-int8:256:32,…)."""

    def __init__(
        self, directory: Path, query_prefix: str = "", document_prefix: str = "",
        max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH, threads: int | None = 1, batch_size: int = BATCH_SIZE,
    ):
        import onnxruntime
        from tokenizers import Tokenizer

        super().__init__(query_prefix, document_prefix, batch_size)
        build = onnx_build(directory)
        model = directory / ONNX_FOLDER / "model.onnx"
        if build is None or not model.is_file():
            raise EncoderNotFoundError(f"no int8 model in {directory / ONNX_FOLDER}: run `python models/build_onnx.py`")
        if sha256_of(model) != build["sha256"]:
            raise EncoderIntegrityError(
                f"{model} does not match the checksum recorded by its build: run `python models/build_onnx.py` "
                "to rebuild it, or set TECHMATCH_ENCODER_BACKEND=torch"
            )
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        self.dim = int(config["hidden_size"])
        self.max_seq_length = min(max_seq_length, int(config["max_position_embeddings"]))
        self.name = _with_limit(f"{directory.name}/{ONNX_FOLDER}", max_seq_length)  # as encoder_name gives it
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self.max_seq_length)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0: one per core
        options.inter_op_num_threads = 1
        # Idle threads sleep instead of spinning: the cores are shared with the web server and the database.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])

    def _encode(self, texts: Sequence[str], prefix: str, show_progress: bool) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        # sentence-transformers strips each text before tokenising; so does this, to get the same tokens.
        encodings = self._tokenizer.encode_batch([(prefix + text).strip() for text in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        batches = [order[start:start + self._batch_size] for start in range(0, len(order), self._batch_size)]
        if show_progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc="Batches", unit="batch")
        for rows in batches:
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for row, i in enumerate(rows):
                ids[row, :len(encodings[i].ids)] = encodings[i].ids
                mask[row, :len(encodings[i].ids)] = 1
            hidden = self._session.run(
                ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            weights = mask.astype(np.float32)
            pooled = np.einsum("bsd,bs->bd", hidden.astype(np.float32), weights) / weights.sum(axis=1, keepdims=True)
            vectors[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return vectors


def encoder_name(path: str | os.PathLike[str], backend: Backend = DEFAULT_BACKEND,
                 max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH) -> str:
    """The name `load_encoder` gives the encoder at `path`, found without loading it (a starting
    process reads the index of that name while the model loads).

    The directory name, plus "/onnx-int8" for the int8 copy, plus "@<tokens>" when texts are cut
    at another token limit than DEFAULT_MAX_SEQ_LENGTH: each of the three changes the vectors of
    long texts, so vectors stored under one name are never mixed with another's.
    """
    directory = Path(path)
    name = directory.name
    if backend == "onnx-int8":
        build = onnx_build(directory)
        if build is not None and build["gate"]["passed"]:
            name = f"{directory.name}/{ONNX_FOLDER}"
    return _with_limit(name, max_seq_length)


def is_model_directory(directory: Path) -> bool:
    """Whether `directory` holds a model `load_encoder` can load (a sentence-transformers or BERT folder)."""
    return (directory / "modules.json").is_file() or (directory / "config.json").is_file()


def _with_limit(name: str, max_seq_length: int) -> str:
    return name if max_seq_length == DEFAULT_MAX_SEQ_LENGTH else f"{name}@{max_seq_length}"


def load_encoder(
    path: str | os.PathLike[str],
    query_prefix: str = "",
    document_prefix: str = "",
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
    threads: int | None = 1,
    backend: Backend = DEFAULT_BACKEND,
    batch_size: int | None = None,
) -> Encoder:
    """Load a local encoder strictly offline (no hub access, CPU).

    `backend` "onnx-int8" uses the int8 copy built by models/build_onnx.py when
    it exists and passed its quality gate, and falls back to torch (with a log
    line saying why) when it does not; a copy whose checksum does not match
    its build record is refused (EncoderIntegrityError), never silently used.

    `threads` sets the intra-op threads (None leaves the runtime's default: one
    per core). One thread is the default because the model shares the CPU with
    the web server, the database and background indexing: on 2 cores with one
    busy, a 2-thread forward pass of a short query took about 360 ms (threads
    wait for each other at every layer) against 19 ms with one thread.

    `batch_size` (texts per forward pass) defaults to each backend's measured best.

    The encoder name (see `encoder_name`) is stored with each vector so an index
    built by one model is never queried with vectors from another.
    """
    directory = Path(path)
    if not is_model_directory(directory):
        raise EncoderNotFoundError(
            f"no sentence encoder at {directory}: run `python models/fetch_encoder.py` "
            "(done automatically by `make run`) or point TECHMATCH_ENCODER at a "
            "local sentence-transformers directory"
        )
    if backend == "onnx-int8":
        build = onnx_build(directory)
        if build is not None and build["gate"]["passed"]:
            return OnnxEncoder(directory, query_prefix, document_prefix, max_seq_length, threads,
                               batch_size or OnnxEncoder.BATCH_SIZE)
        reason = (
            f"no int8 build in {directory / ONNX_FOLDER} (`python models/build_onnx.py`, run by `make setup`)"
            if build is None
            else f"the int8 build failed its quality gate (mean cosine to fp32 {build['gate']['mean_cosine']:.4f} "
            f"< {build['gate']['threshold']})"
        )
        log.warning("encoder: %s; using torch fp32", reason)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    if threads:
        torch.set_num_threads(threads)

    model = SentenceTransformer(str(directory), device="cpu", local_files_only=True)
    model.max_seq_length = min(max_seq_length, model.max_seq_length or max_seq_length)
    model.eval()
    name = _with_limit(directory.name, max_seq_length)  # the limit asked for, as encoder_name gives it
    return SentenceTransformerEncoder(model, name, query_prefix, document_prefix, batch_size or SentenceTransformerEncoder.BATCH_SIZE)
