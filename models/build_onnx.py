"""Build the int8 ONNX Runtime copy of the sentence encoder into models/<name>/onnx-int8/.

Runs on every `make setup`, after fetch_encoder.py and the dependencies, so the
common case (copy present, checksum and gate record matching the manifest) only
re-hashes one 24 MB file. Nothing is downloaded: the copy is made from the
fetched weights.

Steps, pinned in manifest.json ("onnx_int8"):
1. `torch.onnx.export` (TorchScript exporter, eager attention) of the BERT body
   to its last hidden state; pooling stays in Python;
2. onnxruntime's BERT optimizer fuses attention, skip-layer-norm and bias-GELU;
3. `quantize_dynamic`: int8 weights, one scale per output channel, on a 7-bit
   range (reduce_range). Without it, on x86 CPUs without VNNI (AVX2 only) the
   u8 x s8 products saturate and the vectors fall to a mean cosine of 0.72.
The result is byte-identical from run to run, so its sha256 is pinned: a
different file (other library versions) stops the setup rather than ship an
unchecked model.

The quality gate then encodes the sample papers in gate_samples.jsonl (documents
and their titles as queries) with torch fp32 and with the copy, through the
service's own encoder classes, and writes the mean cosine into build.json. Below
the manifest's threshold the copy is kept but marked failed, and the service
uses torch (it logs why). Everything is written in a temporary directory and
renamed into place, so an interrupted build leaves nothing half-made.
"""

import json
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
MANIFEST = MODELS_DIR / "manifest.json"
SAMPLES = MODELS_DIR / "gate_samples.jsonl"
sys.path.insert(0, str(MODELS_DIR.parent))

from app.matching.encoder import (  # noqa: E402
    DEFAULT_MAX_SEQ_LENGTH,
    ONNX_BUILD_FILE,
    ONNX_FOLDER,
    OnnxEncoder,
    load_encoder,
    sha256_of,
)
from app.matching.text import document_text  # noqa: E402


def log(message: str) -> None:
    print(f"build_onnx: {message}", file=sys.stderr, flush=True)


def is_current(target: Path, spec: dict) -> bool:
    """True when the copy matches its pinned checksum and was gated against the current threshold."""
    record = target / ONNX_BUILD_FILE
    if not record.is_file() or not (target / "model.onnx").is_file():
        return False
    build = json.loads(record.read_text(encoding="utf-8"))
    return (
        build.get("sha256") == spec["sha256"]
        and build.get("gate", {}).get("threshold") == spec["gate_min_mean_cosine"]
        and sha256_of(target / "model.onnx") == spec["sha256"]
    )


def export(source: Path, path: Path, opset: int) -> None:
    import torch
    from transformers import AutoModel

    class LastHiddenState(torch.nn.Module):
        """The BERT body with plain tensor inputs and one output, as the exporter wants."""

        def __init__(self, bert: torch.nn.Module):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    # Eager attention exports as plain MatMul/Softmax, the pattern onnxruntime's optimizer fuses.
    bert = AutoModel.from_pretrained(str(source), attn_implementation="eager", local_files_only=True).eval()
    example = (torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long), torch.zeros(2, 16, dtype=torch.long))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer notes about Python branches on shapes; the gate checks the result
        torch.onnx.export(
            LastHiddenState(bert), example, str(path), input_names=names, output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]},
            opset_version=opset, dynamo=False,
        )


def fuse(exported: Path, path: Path, config: dict) -> None:
    from onnxruntime.transformers.optimizer import optimize_model

    model = optimize_model(
        str(exported), model_type="bert", num_heads=config["num_attention_heads"], hidden_size=config["hidden_size"]
    )
    fused = model.get_fused_operator_statistics()
    log(f"fused: {', '.join(f'{op} {n}' for op, n in fused.items() if n)}")
    model.save_model_to_file(str(path))


def quantize(fused: Path, path: Path) -> None:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # a generic hint to pre-process first, which the fused graph does not need
    quantize_dynamic(
        str(fused), str(path), per_channel=True, reduce_range=True, weight_type=QuantType.QInt8,
        # The fused operators are outside ONNX's shape inference; their outputs are float32.
        extra_options={"DefaultTensorType": TensorProto.FLOAT},
    )
    logging.disable(logging.NOTSET)


def quality_gate(source: Path, staging_parent: Path, threshold: float) -> dict:
    """Mean cosine between fp32 torch and the int8 copy on the sample papers and their titles."""
    import numpy as np

    samples = [json.loads(line) for line in SAMPLES.read_text(encoding="utf-8").splitlines() if line.strip()]
    documents = [document_text(s["title"], s["keywords"], s["abstract"]) for s in samples]
    titles = [document_text(s["title"], None, None) for s in samples]
    reference = load_encoder(source, max_seq_length=DEFAULT_MAX_SEQ_LENGTH, threads=None, backend="torch")
    candidate = OnnxEncoder(staging_parent, max_seq_length=DEFAULT_MAX_SEQ_LENGTH, threads=None)
    cosines = np.concatenate([
        (reference.encode_documents(documents) * candidate.encode_documents(documents)).sum(axis=1),
        (reference.encode_queries(titles) * candidate.encode_queries(titles)).sum(axis=1),
    ])
    mean = round(float(cosines.mean()), 4)
    return {
        "samples": len(cosines), "mean_cosine": mean, "min_cosine": round(float(cosines.min()), 4),
        "threshold": threshold, "passed": mean >= threshold,
    }


def main() -> int:
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    spec = manifest["onnx_int8"]
    source = MODELS_DIR / manifest["name"]
    target = source / ONNX_FOLDER
    if not (source / "config.json").is_file():
        raise SystemExit(f"build_onnx: no encoder at {source}: run `python models/fetch_encoder.py` first")
    if is_current(target, spec):
        return 0
    started = time.monotonic()
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(dir=source, prefix=".onnx-") as tmp:
        work = Path(tmp)
        staging = work / "encoder" / ONNX_FOLDER
        staging.mkdir(parents=True)
        export(source, work / "exported.onnx", spec["opset"])
        fuse(work / "exported.onnx", work / "fused.onnx", config)
        quantize(work / "fused.onnx", staging / "model.onnx")
        actual = sha256_of(staging / "model.onnx")
        if actual != spec["sha256"]:
            raise SystemExit(
                f"build_onnx: the int8 model's checksum {actual} is not the pinned {spec['sha256']} "
                "(different torch/onnx/onnxruntime versions than pyproject.toml pins?)"
            )
        # The gate loads the copy the way the service does: from a folder holding the tokenizer and config.
        for name in ("config.json", "tokenizer.json"):
            shutil.copyfile(source / name, work / "encoder" / name)
        (staging / ONNX_BUILD_FILE).write_text(json.dumps({"sha256": actual, "gate": None}), encoding="utf-8")
        gate = quality_gate(source, work / "encoder", spec["gate_min_mean_cosine"])
        build = {"source": manifest["name"], "sha256": actual, "max_seq_length": DEFAULT_MAX_SEQ_LENGTH, "gate": gate}
        (staging / ONNX_BUILD_FILE).write_text(json.dumps(build, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    verdict = "passed: the service encodes with it (TECHMATCH_ENCODER_BACKEND=onnx-int8, the default)" if gate["passed"] else (
        f"FAILED (below {gate['threshold']}): the service falls back to torch fp32"
    )
    log(f"built {target} in {time.monotonic() - started:.0f} s; quality gate on {gate['samples']} texts: "
        f"mean cosine to fp32 {gate['mean_cosine']} (min {gate['min_cosine']}), {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
