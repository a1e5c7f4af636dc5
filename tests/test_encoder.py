"""The numpy all-MiniLM-L6-v2 (store/semantic/encoder.py) with the weights shipped in the package, against
torch's vectors from the original float32 weights (tests/data/minilm_reference.npz, made by
scripts/make_reference.py): no torch needed here.

Tolerances. The shipped weights are float16; the encoder computes in float32. Measured over the
290 reference texts: max |component difference| 1.4e-4, min cosine 0.9999996, max difference of
a question-paper similarity 1.6e-4 (with the original float32 weights the numpy encoder is within
2.1e-7 of torch, so this is the weights' rounding, not the forward pass). The bounds below leave
~3x headroom. What justifies them is the ranking: every question's top-3 papers among the 91 seed
papers are the reference's, except where the reference itself separates two papers by less than
SIM_TOL (one question of 199: its 3rd and 4th papers differ by 2.4e-5 in cosine, a tie no
float16 model can be held to).
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from store.semantic import encoder as enc
from tests.conftest import DATA

VEC_TOL = 5e-4  # max |difference| of a vector component
COS_MIN = 0.99999  # min cosine between a vector and its reference
SIM_TOL = 5e-4  # max difference of a question-paper similarity; smaller reference gaps are ties


@pytest.fixture(scope="module")
def encoder() -> enc.Encoder:
    return enc.Encoder(enc.SHIPPED_DIR)


@pytest.fixture(scope="module")
def reference():
    ref = np.load(DATA / "minilm_reference.npz")
    return {k: ref[k] for k in ref.files}


@pytest.fixture(scope="module")
def encoded(encoder, reference) -> np.ndarray:
    return encoder.encode([str(t) for t in reference["texts"]])


def test_reference_covers_the_questions_and_the_seed(reference):
    kinds = reference["kinds"]
    assert (kinds == "question").sum() >= 199 and (kinds == "paper").sum() == 91
    texts = {str(t) for t in reference["texts"]}
    lines = (DATA / "eval_nonsense.txt").read_text(encoding="utf-8").splitlines()
    assert {q for q in lines if q.strip()} <= texts


def test_vectors_match_torch(encoded, reference):
    ref = reference["vectors"].astype(np.float32)
    assert encoded.shape == ref.shape and encoded.dtype == np.float32
    assert np.allclose(np.linalg.norm(encoded, axis=1), 1.0, atol=1e-5)
    assert np.abs(encoded - ref).max() <= VEC_TOL
    assert (encoded * ref).sum(axis=1).min() >= COS_MIN


def test_every_question_keeps_its_top3_papers(encoded, reference):
    questions = reference["kinds"] == "question"
    papers = ~questions
    want = reference["vectors"][questions].astype(np.float32) @ reference["vectors"][papers].T
    got = encoded[questions] @ encoded[papers].T
    assert np.abs(got - want).max() <= SIM_TOL
    exact = 0
    for i, (w, g) in enumerate(zip(want, got, strict=True)):
        ref_top, our_top = set(np.argsort(-w)[:3]), set(np.argsort(-g)[:3])
        exact += ref_top == our_top
        third = np.sort(w)[-3]
        for paper in ref_top ^ our_top:  # a swap only between papers the reference calls a tie
            assert abs(w[paper] - third) < SIM_TOL, (str(reference["texts"][i]), paper)
    near_ties = int((np.sort(want, axis=1)[:, -3] - np.sort(want, axis=1)[:, -4] < SIM_TOL).sum())
    assert exact >= len(want) - near_ties


def test_no_texts(encoder):
    out = encoder.encode([])
    assert out.shape == (0, 384) and out.dtype == np.float32


def test_long_text_is_truncated(encoder):
    long = ("The frozen language model reads image features through one linear map. " * 200)[
        :10_000
    ]
    assert len(encoder.tokenizer.encode(long).ids) == enc.MAX_TOKENS
    vector = encoder.encode([long])
    assert vector.shape == (1, 384) and np.isfinite(vector).all()
    head = encoder.encode([long[:2000]])  # past 256 tokens the text does not count
    cut = encoder.tokenizer.decode(encoder.tokenizer.encode(long).ids[1:-1])
    assert np.allclose(vector, encoder.encode([cut]), atol=1e-5)
    assert float(vector[0] @ head[0]) > 0.9


def test_odd_characters(encoder):
    texts = [
        "🚀🔥 vision transformers 🤖",
        "<b>Remote</b> &amp; <i>sensing</i> <br/>",
        "\u200b",
        " ",
    ]
    out = encoder.encode(texts)
    assert out.shape == (4, 384) and np.isfinite(out).all()
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_batching_does_not_change_vectors(encoder, reference):
    texts = [str(t) for t in reference["texts"][::29]] + ["short", "a bit longer question here"]
    together = encoder.encode(texts)
    alone = np.concatenate([encoder.encode([t]) for t in texts])
    assert np.abs(together - alone).max() < 1e-5
    assert np.array_equal(encoder.encode(texts[::-1]), together[::-1])


def test_threads_share_one_encoder(encoder):
    texts = ["frozen language model", "remote sensing captions", "self-supervised vision"]
    want = encoder.encode(texts)
    results: list[np.ndarray] = []

    def work() -> None:
        results.append(encoder.encode(texts))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(np.array_equal(r, want) for r in results)


def test_model_dir_override(tmp_path, monkeypatch, encoder):
    copy = tmp_path / "minilm"
    shutil.copytree(enc.SHIPPED_DIR, copy)
    monkeypatch.setenv(enc.MODEL_DIR_ENV, str(copy))
    other = enc.Encoder()
    assert other.folder == copy and other.dim == 384
    assert other.name != encoder.name  # vectors saved by another model are not reused
    texts = ["a frozen language model", "remote sensing"]
    assert np.array_equal(other.encode(texts), encoder.encode(texts))


def _broken(tmp_path: Path, what: str) -> Path:
    folder = tmp_path / what
    shutil.copytree(enc.SHIPPED_DIR, folder)
    if what == "no-tokenizer":
        (folder / "tokenizer.json").unlink()
    elif what == "truncated-weights":
        data = (folder / "model.safetensors").read_bytes()
        (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    elif what == "bad-config":
        (folder / "config.json").write_text('{"hidden_size": 384}')
    elif what == "wrong-shape":
        (folder / "config.json").write_text(
            (folder / "config.json").read_text().replace('"hidden_size": 384', '"hidden_size": 768')
        )
    return folder


@pytest.mark.parametrize(
    "what, message",
    [
        ("missing", "does not exist"),
        ("no-tokenizer", "has no tokenizer.json"),
        ("truncated-weights", "unreadable weights"),
        ("bad-config", "unreadable config.json"),
        ("wrong-shape", "config says"),
    ],
)
def test_broken_model_dir_is_a_clear_error(tmp_path, monkeypatch, what, message):
    folder = tmp_path / "missing" if what == "missing" else _broken(tmp_path, what)
    monkeypatch.setenv(enc.MODEL_DIR_ENV, str(folder))
    with pytest.raises(enc.ModelError, match=message) as info:
        enc.Encoder()
    assert str(folder) in str(info.value)


def test_erf_and_gelu_match_the_exact_functions():
    import math

    x = np.linspace(-8, 8, 4001)
    assert np.abs(enc.erf(x) - np.array([math.erf(v) for v in x])).max() < 2e-7
    x32 = x.astype(np.float32)
    exact = np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    assert np.abs(enc.gelu(x32.copy()) - exact).max() < 2e-6
    assert np.isfinite(enc.gelu(np.array([-1e30, 1e30], dtype=np.float32))).all()
