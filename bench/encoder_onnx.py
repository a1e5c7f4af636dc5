"""Option 3 of issue 20, measured, not shipped: all-MiniLM-L6-v2 as an ONNX graph built from the
shipped weights with the `onnx` helper API (no torch, no export), run by onnxruntime on one
thread, against the numpy encoder, interleaved on the bundled papers' passages.

    pip install onnxruntime==1.32.0 onnx==1.23.2   # not project dependencies
    python bench/encoder_onnx.py [--rounds 2]

It prints the graph's accuracy against torch's reference vectors (the encoder test's measures)
and passages/s per round with the load average. One text per run (no padding, no mask).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from store.semantic import encoder as enc  # noqa: E402

WEIGHTS = ("qkv_w", "qkv_b", "out_w", "out_b", "ln1_g", "ln1_b")
WEIGHTS += ("up_w", "up_b", "down_w", "down_b", "ln2_g", "ln2_b")


class Graph:
    """Nodes and initialisers of one ONNX graph, named as they are added."""

    def __init__(self) -> None:
        self.inits: list = []
        self.nodes: list = []

    def const(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, kind: str, inputs: list[str], out: str, **attrs) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out


def layer_nodes(g: Graph, x: str, layer: enc.Layer, i: int, cfg: enc.BertConfig) -> str:
    """One transformer block on a (tokens, hidden) tensor, as the numpy encoder computes it (the
    1/sqrt(d) scale is already in the query weights)."""
    p = f"l{i}_"
    for name in WEIGHTS:
        g.const(p + name, getattr(layer, name))
    qkv = g.op("Add", [g.op("MatMul", [x, p + "qkv_w"], p + "qkv0"), p + "qkv_b"], p + "qkv")
    split = g.op("Reshape", [qkv, "shape_t3hd"], p + "r")
    split = g.op("Transpose", [split], p + "rt", perm=[1, 2, 0, 3])  # (3, heads, t, d)
    from onnx import helper

    g.nodes.append(
        helper.make_node("Split", [split], [p + "q3", p + "k3", p + "v3"], num_outputs=3)
    )
    q, k, v = (g.op("Squeeze", [p + n + "3", "axis0"], p + n) for n in "qkv")
    kt = g.op("Transpose", [k], p + "kt", perm=[0, 2, 1])
    s = g.op("Softmax", [g.op("MatMul", [q, kt], p + "s0")], p + "s", axis=-1)
    c = g.op("Transpose", [g.op("MatMul", [s, v], p + "c0")], p + "c1", perm=[1, 0, 2])
    c = g.op("Reshape", [c, "shape_th"], p + "c")
    a = g.op("Add", [g.op("MatMul", [c, p + "out_w"], p + "o0"), p + "out_b"], p + "o1")
    a = g.op("Add", [a, x], p + "o2")
    eps = cfg.eps
    x1 = g.op("LayerNormalization", [a, p + "ln1_g", p + "ln1_b"], p + "x1", epsilon=eps)
    h = g.op("Add", [g.op("MatMul", [x1, p + "up_w"], p + "h0"), p + "up_b"], p + "h1")
    h = g.op("Gelu", [h], p + "h2")  # exact (erf) GELU, opset 20
    d = g.op("Add", [g.op("MatMul", [h, p + "down_w"], p + "d0"), p + "down_b"], p + "d1")
    d = g.op("Add", [d, x1], p + "d2")
    return g.op("LayerNormalization", [d, p + "ln2_g", p + "ln2_b"], p + "x2", epsilon=eps)


def build(model: enc.BertModel) -> bytes:
    """The whole model, ids and positions in, the mean over tokens out (normalised outside)."""
    from onnx import TensorProto, helper

    cfg, g = model.cfg, Graph()
    heads = cfg.heads
    g.const("shape_t3hd", np.array([-1, 3, heads, cfg.hidden // heads], np.int64))
    g.const("shape_th", np.array([-1, cfg.hidden], np.int64))
    for name, value in (("word", model.word), ("pos", model.position), ("type0", model.type0)):
        g.const(name, value)
    g.const("lng", model.ln_g)
    g.const("lnb", model.ln_b)
    g.const("axis0", np.array([0], np.int64))
    x = g.op(
        "Add", [g.op("Gather", ["word", "ids"], "we"), g.op("Gather", ["pos", "at"], "pe")], "e"
    )
    x = g.op("Add", [x, "type0"], "e2")
    x = g.op("LayerNormalization", [x, "lng", "lnb"], "x0", epsilon=cfg.eps)
    for i, layer in enumerate(model.layers):
        x = layer_nodes(g, x, layer, i, cfg)
    g.op("ReduceMean", [x, "axis0"], "mean", keepdims=0)
    ints = [helper.make_tensor_value_info(n, TensorProto.INT64, ["t"]) for n in ("ids", "at")]
    out = [helper.make_tensor_value_info("mean", TensorProto.FLOAT, [cfg.hidden])]
    graph = helper.make_graph(g.nodes, "minilm", ints, out, g.inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]).SerializeToString()


def session(model: enc.BertModel):
    """onnxruntime on one thread, every graph optimisation on."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(build(model), options, providers=["CPUExecutionProvider"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from store.collection import db as store_db
    from store.collection.importers import listing
    from store.semantic.stage import paper_passages

    encoder = enc.Encoder(enc.SHIPPED_DIR)
    run = session(encoder.model)

    def onnx_encode(texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), encoder.dim), np.float32)
        for i, e in enumerate(encoder.tokenizer.encode_batch(texts)):
            ids = np.array(e.ids, np.int64)
            v = run.run(None, {"ids": ids, "at": np.arange(len(ids), dtype=np.int64)})[0]
            out[i] = v / max(float(np.linalg.norm(v)), 1e-12)
        return out

    ref = np.load(ROOT / "tests" / "data" / "minilm_reference.npz")
    want_v, got_v = ref["vectors"].astype(np.float32), onnx_encode([str(t) for t in ref["texts"]])
    q = ref["kinds"] == "question"
    want, got = want_v[q] @ want_v[~q].T, got_v[q] @ got_v[~q].T
    same = sum(
        set(np.argsort(-w)[:3]) == set(np.argsort(-o)[:3]) for w, o in zip(want, got, strict=True)
    )
    print(f"onnx vs torch: max |component| {np.abs(got_v - want_v).max():.2e}, max |similarity|")
    print(f"{np.abs(got - want).max():.2e}, same top-3 on {same}/{int(q.sum())} questions")
    records = listing.parse(store_db.bundled_listing())
    passages = [c for r in records for c in paper_passages(r["title"], r["abstract"])]
    engines = [("numpy", encoder.encode), ("onnxruntime", onnx_encode)]
    for i in range(args.rounds):
        for name, encode in engines if i % 2 == 0 else engines[::-1]:
            load, t = os.getloadavg()[0], time.perf_counter()
            encode(passages)
            rate = len(passages) / (time.perf_counter() - t)
            print(f"round {i + 1} {name:>11}: {rate:6.1f} passages/s (load {load:.2f})", flush=True)


if __name__ == "__main__":
    main()
