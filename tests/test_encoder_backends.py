"""The int8 ONNX Runtime encoder against torch fp32, the backend setting, the checksum and the quality gate.

Needs the int8 build next to the encoder (`make setup` runs models/build_onnx.py).
"""

import importlib.util
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from app.config import REPO_ROOT, Settings
from app.matching.encoder import (
    ONNX_BUILD_FILE,
    ONNX_FOLDER,
    EncoderIntegrityError,
    OnnxEncoder,
    encoder_name,
    load_encoder,
    onnx_build,
)
from app.matching.keeper import cached_encoder

TEXTS = [
    "一种基于深度学习的锂离子电池健康状态估计方法",
    "采用改进的遗传算法优化了汽车零部件冲压工艺参数，仿真结果表明成形质量明显提高。",
    "玉米秸秆还田对黑土有机质含量的影响",
    "VOCs 废气治理",
    "  前后有空格的文本  ",
]


def _encoder(backend: str):
    settings = Settings()
    return cached_encoder(Path(settings.encoder), "", "", 1, backend)


@pytest.fixture(scope="module")
def directory() -> Path:
    path = Path(Settings().encoder)
    if onnx_build(path) is None:
        pytest.fail(f"no int8 build in {path / ONNX_FOLDER}: run `make setup` (models/build_onnx.py)")
    return path


@pytest.fixture(scope="module")
def torch_encoder(directory):
    return _encoder("torch")


@pytest.fixture(scope="module")
def onnx_encoder(directory):
    return _encoder("onnx-int8")


def test_another_token_limit_is_another_encoder(directory, onnx_encoder):
    """Vectors of texts cut at 128 tokens differ from those cut at 256: the name says which, so
    stored rows of one limit are never read by an index of the other."""
    short = load_encoder(directory, max_seq_length=128, backend="onnx-int8")
    assert short.name == encoder_name(directory, "onnx-int8", 128) == "m3e-small/onnx-int8@128"
    assert encoder_name(directory, "onnx-int8") == onnx_encoder.name == "m3e-small/onnx-int8"
    long_text = "。".join(TEXTS * 20)
    assert float(short.encode_documents([long_text])[0] @ onnx_encoder.encode_documents([long_text])[0]) < 0.999
    assert np.allclose(short.encode_documents(TEXTS[:1]), onnx_encoder.encode_documents(TEXTS[:1]), atol=1e-6)
    with pytest.raises(ValidationError):
        Settings(encoder_max_tokens=1000)


def _copy_encoder(source: Path, target: Path, with_build: bool) -> Path:
    """The encoder's files linked into `target`, with a real (editable) copy of the int8 folder if asked."""
    target.mkdir()
    for item in source.iterdir():
        if item.name != ONNX_FOLDER:
            (target / item.name).symlink_to(item)
    if with_build:
        shutil.copytree(source / ONNX_FOLDER, target / ONNX_FOLDER)
    return target


def test_int8_vectors_are_unit_rows_close_to_fp32(torch_encoder, onnx_encoder):
    assert isinstance(onnx_encoder, OnnxEncoder)
    assert onnx_encoder.name == "m3e-small/onnx-int8" and torch_encoder.name == "m3e-small"
    assert onnx_encoder.dim == torch_encoder.dim == 512
    assert onnx_encoder.max_seq_length == torch_encoder.max_seq_length == 256
    for encode in ("encode_documents", "encode_queries"):
        int8, fp32 = getattr(onnx_encoder, encode)(TEXTS), getattr(torch_encoder, encode)(TEXTS)
        assert int8.dtype == np.float32 and int8.shape == (len(TEXTS), 512)
        assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
        cosines = (int8 * fp32).sum(axis=1)
        assert cosines.min() >= 0.98, cosines
    assert onnx_encoder.encode_queries([]).shape == (0, 512)


def test_a_vector_barely_depends_on_its_batch(onnx_encoder):
    """Dynamic quantisation scales activations per batch, so a text's vector moves a little with its
    neighbours (and their padding); it must stay far closer to itself than the int8 gate allows."""
    together = onnx_encoder.encode_queries(TEXTS)
    alone = np.concatenate([onnx_encoder.encode_queries([text]) for text in TEXTS])
    cosines = (together * alone).sum(axis=1)
    assert cosines.min() >= 0.99, cosines
    assert np.array_equal(onnx_encoder.encode_queries(TEXTS), together)  # and the same batch, the same vectors


def test_int8_truncates_at_the_same_token_limit_as_torch(torch_encoder, onnx_encoder):
    long_text = TEXTS[1] * 40  # about 1,600 tokens
    cut = long_text[: len(long_text) // 2]  # still far beyond 256 tokens: the same first 256 are read
    assert float(onnx_encoder.encode_queries([long_text])[0] @ onnx_encoder.encode_queries([cut])[0]) > 0.9999
    assert float(onnx_encoder.encode_queries([long_text])[0] @ torch_encoder.encode_queries([long_text])[0]) >= 0.98


def test_prefixes_go_to_their_own_side(directory, onnx_encoder):
    prefixed = OnnxEncoder(directory, query_prefix="问：", document_prefix="文：")
    text = TEXTS[0]
    assert np.allclose(prefixed.encode_queries([text]), onnx_encoder.encode_queries(["问：" + text]), atol=1e-6)
    assert np.allclose(prefixed.encode_documents([text]), onnx_encoder.encode_queries(["文：" + text]), atol=1e-6)
    assert float(prefixed.encode_queries([text])[0] @ prefixed.encode_documents([text])[0]) < 0.999


def test_backend_setting_selects_the_encoder(monkeypatch, torch_encoder, onnx_encoder):
    monkeypatch.delenv("TECHMATCH_ENCODER_BACKEND", raising=False)
    settings = Settings()
    assert settings.encoder_backend == "onnx-int8"
    assert cached_encoder(Path(settings.encoder), "", "", 1, settings.encoder_backend) is onnx_encoder
    monkeypatch.setenv("TECHMATCH_ENCODER_BACKEND", "torch")
    settings = Settings()
    assert cached_encoder(Path(settings.encoder), "", "", 1, settings.encoder_backend) is torch_encoder
    monkeypatch.setenv("TECHMATCH_ENCODER_BACKEND", "int8")
    with pytest.raises(ValidationError):
        Settings()


def test_without_a_build_the_default_falls_back_to_torch(directory, tmp_path, caplog):
    bare = _copy_encoder(directory, tmp_path / "m3e-small", with_build=False)
    with caplog.at_level(logging.WARNING, logger="techmatch.encoder"):
        encoder = load_encoder(bare, backend="onnx-int8")
    assert encoder.name == "m3e-small"
    assert "no int8 build" in caplog.text and "using torch fp32" in caplog.text


def test_a_failed_quality_gate_falls_back_to_torch(directory, tmp_path, caplog):
    copy = _copy_encoder(directory, tmp_path / "m3e-small", with_build=True)
    record = copy / ONNX_FOLDER / ONNX_BUILD_FILE
    build = json.loads(record.read_text(encoding="utf-8"))
    build["gate"].update(mean_cosine=0.9412, passed=False)
    record.write_text(json.dumps(build), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="techmatch.encoder"):
        encoder = load_encoder(copy, backend="onnx-int8")
    assert encoder.name == "m3e-small"
    assert "quality gate" in caplog.text and "0.9412" in caplog.text


def test_a_tampered_model_file_is_refused(directory, tmp_path):
    copy = _copy_encoder(directory, tmp_path / "m3e-small", with_build=True)
    model = copy / ONNX_FOLDER / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one weight
    model.write_bytes(bytes(data))
    with pytest.raises(EncoderIntegrityError, match="checksum"):
        load_encoder(copy, backend="onnx-int8")
    spec = json.loads((REPO_ROOT / "models" / "manifest.json").read_text(encoding="utf-8"))["onnx_int8"]
    assert not _build_script().is_current(copy / ONNX_FOLDER, spec)  # so `make setup` rebuilds it


def test_the_build_matches_the_pinned_checksum_and_passed_its_gate(directory):
    spec = json.loads((REPO_ROOT / "models" / "manifest.json").read_text(encoding="utf-8"))["onnx_int8"]
    build = onnx_build(directory)
    assert build is not None and build["sha256"] == spec["sha256"]
    assert build["gate"]["threshold"] == spec["gate_min_mean_cosine"] == 0.98
    assert build["gate"]["samples"] == 80
    assert build["gate"]["passed"] is True and build["gate"]["mean_cosine"] >= 0.98
    assert _build_script().is_current(directory / ONNX_FOLDER, spec)


def _build_script():
    spec = importlib.util.spec_from_file_location("build_onnx", REPO_ROOT / "models" / "build_onnx.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
