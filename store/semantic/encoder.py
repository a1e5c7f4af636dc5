"""all-MiniLM-L6-v2 in numpy: a BERT forward pass, mean pooling, unit vectors. No torch.

The semantic stage needs one small model (6 layers, 384 wide) and sentence vectors, not a deep
learning framework: torch alone is ~700 MB of install and ~300 MB of memory. This module is the
whole model in ~200 lines of numpy, with the Rust `tokenizers` package for the WordPiece tokenizer
and `safetensors` for the weights, which ship inside the package (store/semantic/model/, see SOURCE.md
there and scripts/convert_model.py), so the stage runs offline with nothing downloaded.

Any BERT-type sentence-transformers folder with mean pooling works (`PAPERBOT_MODEL_DIR`): the
shapes come from its config.json and the weights may be float32, float16, or int8 with per-row
scales (the `<name>.scale` tensors scripts/convert_model.py writes). Everything is computed in
float32; tests/test_encoder.py checks the shipped model against torch's vectors.
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_DIR_ENV = "PAPERBOT_MODEL_DIR"  # another sentence-transformers folder (BERT-type)
SHIPPED_DIR = Path(__file__).resolve().parent / "model" / "all-MiniLM-L6-v2"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
BATCH_TOKENS = 2048  # tokens per forward pass (packed, never padded): small temporaries
ROW_CHUNK = 512  # tokens per feed-forward pass: its (512, 1536) temporary fits in L2
SCALE_SUFFIX = ".scale"  # int8 weight `w` is stored with float scales `w.scale`, one per row


class ModelError(RuntimeError):
    """The model folder is missing, incomplete or not a BERT sentence-transformers model."""


@dataclass(frozen=True)
class BertConfig:
    """The shapes a forward pass needs, read from the folder's config.json."""

    layers: int
    heads: int
    hidden: int
    intermediate: int
    eps: float
    vocab: int
    max_positions: int
    type_vocab: int

    @classmethod
    def from_folder(cls, folder: Path) -> BertConfig:
        """Fails with a ModelError (not a KeyError) so a bad PAPERBOT_MODEL_DIR is easy to read."""
        try:
            raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            if raw.get("model_type", "bert") != "bert" or raw.get("hidden_act", "gelu") != "gelu":
                raise ModelError(f"{folder}: not a BERT model with exact GELU")
            return cls(
                layers=int(raw["num_hidden_layers"]),
                heads=int(raw["num_attention_heads"]),
                hidden=int(raw["hidden_size"]),
                intermediate=int(raw["intermediate_size"]),
                eps=float(raw.get("layer_norm_eps", 1e-12)),
                vocab=int(raw["vocab_size"]),
                max_positions=int(raw.get("max_position_embeddings", 512)),
                type_vocab=int(raw.get("type_vocab_size", 2)),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{folder}: unreadable config.json ({exc})") from exc


@dataclass
class Layer:
    """One transformer block, weights transposed to (in, out) float32 once at load so every
    matmul is `x @ w` on contiguous memory; Q, K and V fused into one (hidden, 3*hidden) matrix."""

    qkv_w: np.ndarray
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln1_g: np.ndarray
    ln1_b: np.ndarray
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    ln2_g: np.ndarray
    ln2_b: np.ndarray


# ---------------------------------------------------------------- numerics


def layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis (biased variance, as torch)."""
    centred = x - x.mean(axis=-1, keepdims=True)
    var = np.mean(np.square(centred), axis=-1, keepdims=True)
    var += eps
    centred /= np.sqrt(var)
    centred *= gain
    centred += bias
    return centred


# Abramowitz & Stegun 7.1.26: |error| < 1.5e-7 for all x, below float32's resolution near 1, so
# GELU matches torch's erf-based one to float32 rounding; numpy has no erf and scipy is not needed.
_P = 0.3275911
_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_CHUNK = 1 << 15  # elements per GELU pass: its temporaries stay in L2 (a whole batch's do not)


def erf(x: np.ndarray) -> np.ndarray:
    """Vectorised erf (A&S 7.1.26), in x's dtype."""
    x = np.asarray(x)
    out = np.empty_like(x)
    src, dst = x.reshape(-1), out.reshape(-1)
    scratch = np.empty((2, min(_CHUNK, src.size)), dtype=x.dtype)
    for start in range(0, src.size, _CHUNK):
        z, part = src[start : start + _CHUNK], dst[start : start + _CHUNK]
        t, poly = scratch[:, : z.size]
        _erf_abs_into(z, part, t, poly)
        np.copysign(part, z, out=part)
    return out


def _erf_abs_into(z: np.ndarray, out: np.ndarray, t: np.ndarray, poly: np.ndarray) -> None:
    """erf(|z|) into `out`, on scratch arrays (`poly` may be `z`: z is read first). |z| is capped at
    4 (erf(4) rounds to 1 in float32): past ~9.4 exp(-z*z) is subnormal in float32, and subnormal
    arithmetic is ~100x slower."""
    np.abs(z, out=t)
    np.minimum(t, 4.0, out=t)
    np.multiply(t, t, out=out)
    np.negative(out, out=out)
    np.exp(out, out=out)  # exp(-z^2)
    np.multiply(t, _P, out=t)
    t += 1.0
    np.reciprocal(t, out=t)  # t = 1 / (1 + p|z|)
    np.multiply(t, _A[4], out=poly)
    for a in (_A[3], _A[2], _A[1], _A[0]):
        poly += a
        poly *= t
    poly *= out  # 1 - erf(|z|)
    np.subtract(1.0, poly, out=out)


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, x * Phi(x) = x/2 * (1 + erf(x/sqrt 2)), as BERT's `hidden_act: gelu` (not the
    tanh approximation). In place on `x` (the caller's temporary), chunk by chunk so the
    temporaries stay in cache: on a whole batch, memory traffic made GELU a third of the time."""
    flat = x.reshape(-1)
    scratch = np.empty((3, min(_CHUNK, flat.size)), dtype=x.dtype)
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start : start + _CHUNK]
        z, t, e = scratch[:, : chunk.size]
        np.multiply(chunk, np.float32(1.0 / math.sqrt(2.0)), out=z)
        _erf_abs_into(z, e, t, z)
        np.copysign(e, chunk, out=e)  # erf(z), z of x's sign
        e += 1.0
        e *= 0.5
        chunk *= e
    return x


def softmax_parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Softmax over the last axis, left unnormalised: exp(x - max) in place on `x` (the caller's
    temporary) and the row sums. Dividing the product with V by the sums is the same softmax
    with one pass fewer over the (tokens, tokens) scores."""
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    return x, x.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------- weights


def load_weights(path: Path) -> dict[str, np.ndarray]:
    """Every tensor as float32; int8 tensors with a `.scale` companion are dequantised."""
    from safetensors.numpy import load_file

    try:
        raw = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for a truncated file
        raise ModelError(f"unreadable weights {path.name} ({exc})") from exc
    out = {}
    for name, tensor in raw.items():
        if name.endswith(SCALE_SUFFIX):
            continue
        scale = raw.get(name + SCALE_SUFFIX)
        value = tensor.astype(np.float32)
        out[name] = value * scale.astype(np.float32).reshape(-1, 1) if scale is not None else value
    return out


def _take(weights: dict[str, np.ndarray], name: str, shape: tuple[int, ...]) -> np.ndarray:
    """One tensor of the expected shape, or a ModelError naming it."""
    if name not in weights:
        raise ModelError(f"weights have no tensor {name!r}")
    value = weights[name]
    if value.shape != shape:
        raise ModelError(f"tensor {name!r} has shape {value.shape}, config says {shape}")
    return np.ascontiguousarray(value, dtype=np.float32)


def build_layer(weights: dict[str, np.ndarray], i: int, cfg: BertConfig) -> Layer:
    """Layer i from the BERT tensor names, transposed and fused for the forward pass."""
    h, m = cfg.hidden, cfg.intermediate
    p = f"encoder.layer.{i}."

    def w(name: str, shape: tuple[int, ...]) -> np.ndarray:
        return _take(weights, p + name, shape)

    qkv = [w(f"attention.self.{n}.weight", (h, h)) for n in ("query", "key", "value")]
    qkv_b = [w(f"attention.self.{n}.bias", (h,)) for n in ("query", "key", "value")]
    scale = np.float32(1.0 / math.sqrt(h // cfg.heads))  # attention's 1/sqrt(d), folded into Q
    qkv[0], qkv_b[0] = qkv[0] * scale, qkv_b[0] * scale
    return Layer(
        qkv_w=np.ascontiguousarray(np.concatenate(qkv).T),
        qkv_b=np.concatenate(qkv_b),
        out_w=np.ascontiguousarray(w("attention.output.dense.weight", (h, h)).T),
        out_b=w("attention.output.dense.bias", (h,)),
        ln1_g=w("attention.output.LayerNorm.weight", (h,)),
        ln1_b=w("attention.output.LayerNorm.bias", (h,)),
        up_w=np.ascontiguousarray(w("intermediate.dense.weight", (m, h)).T),
        up_b=w("intermediate.dense.bias", (m,)),
        down_w=np.ascontiguousarray(w("output.dense.weight", (h, m)).T),
        down_b=w("output.dense.bias", (h,)),
        ln2_g=w("output.LayerNorm.weight", (h,)),
        ln2_b=w("output.LayerNorm.bias", (h,)),
    )


def _strip_prefix(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Checkpoints saved from BertFor* heads name tensors `bert.encoder...`: drop that prefix."""
    if any(k.startswith("embeddings.") for k in weights):
        return weights
    return {k.removeprefix("bert."): v for k, v in weights.items()}


# ---------------------------------------------------------------- the model


class BertModel:
    """The forward pass: token ids of a batch of texts (packed, no padding) -> unit vectors."""

    def __init__(self, folder: Path) -> None:
        cfg = self.cfg = BertConfig.from_folder(folder)
        if cfg.hidden % cfg.heads:
            raise ModelError(f"{folder}: hidden size {cfg.hidden} not divisible by heads")
        try:
            self._load(_strip_prefix(load_weights(folder / "model.safetensors")))
        except ModelError as exc:
            raise ModelError(f"{folder}: {exc}") from exc

    def _load(self, weights: dict[str, np.ndarray]) -> None:
        """The tensors, checked against the config's shapes."""
        cfg = self.cfg
        h = cfg.hidden
        self.word = _take(weights, "embeddings.word_embeddings.weight", (cfg.vocab, h))
        self.position = _take(
            weights, "embeddings.position_embeddings.weight", (cfg.max_positions, h)
        )
        types = _take(weights, "embeddings.token_type_embeddings.weight", (cfg.type_vocab, h))
        self.type0 = types[0].copy()  # single sentences: every token has type 0
        self.ln_g = _take(weights, "embeddings.LayerNorm.weight", (h,))
        self.ln_b = _take(weights, "embeddings.LayerNorm.bias", (h,))
        self.layers = [build_layer(weights, i, cfg) for i in range(cfg.layers)]

    def __call__(self, rows: list[list[int]]) -> np.ndarray:
        """Token ids of several texts -> (texts, hidden) float32 unit vectors. The texts are packed
        end to end, one (tokens, hidden) matrix with no padding: every matrix product runs on real
        tokens only, and attention runs text by text, so no mask is needed."""
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        starts = np.zeros(len(rows), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        x = self.embed(rows)
        for layer in self.layers:
            x = self.block(x, starts, lengths, layer)
        return pool(x, starts, lengths)

    def embed(self, rows: list[list[int]]) -> np.ndarray:
        """Word + position + token-type embeddings, LayerNorm."""
        ids = np.fromiter((i for r in rows for i in r), dtype=np.int64)
        positions = np.concatenate([np.arange(len(r)) for r in rows])
        x = self.word[ids]
        x += self.position[positions]
        x += self.type0
        return layer_norm(x, self.ln_g, self.ln_b, self.cfg.eps)

    def block(self, x: np.ndarray, starts: np.ndarray, lengths: np.ndarray, layer: Layer):
        """Self-attention then the feed-forward net, each with a residual and a LayerNorm. The
        feed-forward net runs ROW_CHUNK tokens at a time: its (tokens, 1536) temporary then
        stays in cache, and the matrix products run ~1.5x faster than on a whole batch."""
        eps = self.cfg.eps
        attended = self.attention(x, starts, lengths, layer)
        attended += x
        x = layer_norm(attended, layer.ln1_g, layer.ln1_b, eps)
        out = np.empty_like(x)
        hidden = np.empty((min(ROW_CHUNK, len(x)), layer.up_w.shape[1]), dtype=np.float32)
        for s in range(0, len(x), ROW_CHUNK):
            part, h = x[s : s + ROW_CHUNK], hidden[: min(ROW_CHUNK, len(x) - s)]
            np.matmul(part, layer.up_w, out=h)
            h += layer.up_b
            np.matmul(gelu(h), layer.down_w, out=out[s : s + ROW_CHUNK])
        out += layer.down_b
        out += x
        return layer_norm(out, layer.ln2_g, layer.ln2_b, eps)

    def attention(self, x: np.ndarray, starts: np.ndarray, lengths: np.ndarray, layer: Layer):
        """Multi-head self-attention, one text at a time over its own tokens (the 1/sqrt(d)
        scale is folded into the query weights at load)."""
        h, heads = self.cfg.hidden, self.cfg.heads
        d = h // heads
        qkv = x @ layer.qkv_w
        qkv += layer.qkv_b
        context = np.empty_like(x)
        for s, t in zip(starts.tolist(), lengths.tolist(), strict=True):
            q, k, v = qkv[s : s + t].reshape(t, 3, heads, d).transpose(1, 2, 0, 3).copy()
            weights, sums = softmax_parts(q @ k.transpose(0, 2, 1))  # (heads, t, t)
            part = weights @ v
            part /= sums  # softmax's division on the (t, d) context, not the (t, t) weights
            context[s : s + t].reshape(t, heads, d).transpose(1, 0, 2)[:] = part
        out = context @ layer.out_w
        out += layer.out_b
        return out


def pool(x: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Mean over each text's tokens, then L2 normalisation (sentence-transformers' Pooling +
    Normalize)."""
    summed = np.add.reduceat(x, starts, axis=0) / lengths[:, None].astype(np.float32)
    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    return (summed / np.maximum(norms, 1e-12)).astype(np.float32)


# ---------------------------------------------------------------- tokenizer and batching


def load_tokenizer(folder: Path, max_tokens: int):
    """tokenizer.json with padding off (batches are packed end to end) and truncation at the
    model's max_seq_length: the file itself pads every text to 128, wasted work here."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as exc:  # the Rust side raises a plain Exception on a bad file
        raise ModelError(f"{folder}: unreadable tokenizer.json ({exc})") from exc
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer


def max_tokens_of(folder: Path, cfg: BertConfig) -> int:
    """sentence_bert_config.json's max_seq_length when the folder has one, else 256; never past
    the position table."""
    limit = MAX_TOKENS
    path = folder / "sentence_bert_config.json"
    if path.exists():
        try:
            limit = int(json.loads(path.read_text(encoding="utf-8"))["max_seq_length"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path}: unreadable ({exc})") from exc
    return min(limit, cfg.max_positions)


def token_batches(rows: list[list[int]]) -> list[list[int]]:
    """Indices grouped into batches of at most BATCH_TOKENS tokens (a longer text is a batch of
    its own). Sorted by length and then ids, so a text lands in the same batch whatever the
    order of the texts around it, and its vector does not depend on that order."""
    order = sorted(range(len(rows)), key=lambda i: (len(rows[i]), rows[i]))
    batches: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i in order:
        if current and size + len(rows[i]) > BATCH_TOKENS:
            batches.append(current)
            current, size = [], 0
        current.append(i)
        size += len(rows[i])
    if current:
        batches.append(current)
    return batches


def model_dir() -> Path:
    """PAPERBOT_MODEL_DIR when set, else the folder shipped in the package."""
    override = os.environ.get(MODEL_DIR_ENV, "").strip()
    return Path(override).expanduser() if override else SHIPPED_DIR


class Encoder:
    """Sentence vectors: `encode(texts)` -> float32 (n, dim) unit rows. Thread-safe (one lock:
    numpy's BLAS already uses the cores, two passes at once would only contend)."""

    name = MODEL_NAME

    def __init__(self, folder: Path | str | None = None) -> None:
        folder = Path(folder) if folder is not None else model_dir()
        if not folder.is_dir():
            raise ModelError(f"model folder {folder} does not exist (set {MODEL_DIR_ENV}?)")
        for needed in ("config.json", "tokenizer.json", "model.safetensors"):
            if not (folder / needed).is_file():
                raise ModelError(f"model folder {folder} has no {needed}")
        self.folder = folder
        self.model = BertModel(folder)
        self.dim = self.model.cfg.hidden
        self.max_tokens = max_tokens_of(folder, self.model.cfg)
        self.tokenizer = load_tokenizer(folder, self.max_tokens)
        if folder.resolve() != SHIPPED_DIR:  # the shipped folder, however named, keeps MODEL_NAME
            self.name = _folder_name(folder)
        self._lock = threading.Lock()
        # One BLAS thread for the process, set once: a 15-token question is faster on one core
        # (BLAS threads cost more than they save on small matrices, and collapse when the machine
        # is busy: p95 485 ms against 13 ms measured), the vectors' matrix products are as quick,
        # and background embedding leaves the other core to questions.
        threadpool_limits(limits=1, user_api="blas")

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, one row per text, in the texts' order."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        with self._lock:
            encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=True)
            rows = [e.ids for e in encodings]
            for batch in token_batches(rows):
                out[batch] = self.model([rows[i] for i in batch])
        return out


def _folder_name(folder: Path) -> str:
    """A model folder's name for the vectors' meta.json: the shipped model keeps MODEL_NAME so
    saved vectors stay valid; another folder is named by its path, so switching models re-embeds."""
    return f"{MODEL_NAME}@{folder.resolve()}"
