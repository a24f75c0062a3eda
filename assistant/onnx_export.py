"""Build an ONNX graph of a sentence-transformers BERT encoder straight from its safetensors
weights, without torch: embeddings, the transformer layers, mean pooling over the attention mask
and L2 normalisation, written with ``onnx.helper`` and run by ONNX Runtime.

The graph computes exactly what ``SentenceTransformer(model).encode(texts,
normalize_embeddings=True)`` computes for a BERT model with a mean-pooling head (all-MiniLM-L6-v2
and its relatives): same weights, same operations, float32 throughout. Inputs are ``input_ids``
and ``attention_mask`` (int64, batch x tokens; single-segment input, so token type 0); the output
``sentence_embedding`` is (batch x hidden). ``tests/test_embeddings.py`` compares it with the
sentence-transformers vectors.

Only ``onnx`` and ``safetensors`` are needed to build it (``numpy`` to read the weights);
the ``onnx`` package is imported here only, so the query path never loads it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .errors import IndexError_

# Bump when the graph changes: cached exports with another version are rebuilt.
EXPORT_VERSION = 1
OPSET = 18  # LayerNormalization (17) and reductions with axes as an input (18)
IR_VERSION = 8  # the IR version of opset 18; ONNX Runtime >= 1.14 reads it


class ExportError(IndexError_):
    """The model folder cannot be turned into the ONNX encoder."""


def model_description(model_dir: Path) -> dict:
    """The configuration the graph depends on, read from a sentence-transformers model folder;
    anything this exporter does not implement is refused with a clear error."""
    model_dir = Path(model_dir)
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot read {model_dir / 'config.json'}: {exc}") from exc
    if config.get("model_type") != "bert":
        raise ExportError(
            f"the ONNX encoder supports BERT models only; {model_dir} is a '{config.get('model_type')}' model. "
            "Set POLICY_ASSISTANT_EMBEDDING_BACKEND=sentence-transformers for it."
        )
    if config.get("hidden_act", "gelu") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
        raise ExportError(f"{model_dir}: only BERT with exact GELU and absolute positions is supported")
    pooling = {}
    pooling_files = sorted(model_dir.glob("*_Pooling/config.json"))
    if pooling_files:
        pooling = json.loads(pooling_files[0].read_text(encoding="utf-8"))
    modes = sorted(k for k, v in pooling.items() if k.startswith("pooling_mode") and v)
    if modes not in ([], ["pooling_mode_mean_tokens"]):
        raise ExportError(f"{model_dir}: only mean pooling is supported (the model asks for {modes})")
    st_config = {}
    if (model_dir / "sentence_bert_config.json").exists():
        st_config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
    hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    if hidden % heads:
        raise ExportError(f"{model_dir}: hidden_size {hidden} is not a multiple of num_attention_heads {heads}")
    return {
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "num_hidden_layers": int(config["num_hidden_layers"]),
        "layer_norm_eps": float(config.get("layer_norm_eps", 1e-12)),
        "max_position_embeddings": int(config.get("max_position_embeddings", 512)),
        "max_seq_length": int(st_config.get("max_seq_length") or config.get("max_position_embeddings", 512)),
        "do_lower_case": bool(st_config.get("do_lower_case", False)),
    }


def _weights_file(model_dir: Path) -> Path:
    path = Path(model_dir) / "model.safetensors"
    if not path.exists():
        raise ExportError(f"{model_dir} has no model.safetensors (the ONNX export reads the safetensors weights)")
    return path


def build_model(model_dir: Path):
    """The ``onnx.ModelProto`` of the encoder in ``model_dir``."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as exc:
        raise ExportError(
            "the ONNX encoder must be exported once, which needs the 'onnx' package: "
            "`pip install onnx` (or reinstall the project), or set POLICY_ASSISTANT_EMBEDDING_BACKEND=sentence-transformers"
        ) from exc
    from safetensors.numpy import load_file

    desc = model_description(model_dir)
    raw = load_file(str(_weights_file(model_dir)))
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in raw else ""

    def w(name: str) -> np.ndarray:
        try:
            return np.ascontiguousarray(raw[prefix + name], dtype=np.float32)
        except KeyError as exc:
            raise ExportError(f"{model_dir}: weight '{prefix + name}' is missing from model.safetensors") from exc

    hidden, heads = desc["hidden_size"], desc["num_attention_heads"]
    head_dim = hidden // heads
    eps = desc["layer_norm_eps"]
    inits: list = []
    nodes: list = []
    counter = iter(range(1_000_000))

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(op: str, inputs: list[str], **attrs) -> str:
        out = f"{op.lower()}_{next(counter)}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def linear(x: str, name: str) -> str:
        # torch Linear stores (out, in): y = x @ W.T + b
        weight = const(f"{name}.weight_t", w(f"{name}.weight").T.copy())
        return node("Add", [node("MatMul", [x, weight]), const(f"{name}.bias", w(f"{name}.bias"))])

    def layer_norm(x: str, name: str) -> str:
        return node(
            "LayerNormalization",
            [x, const(f"{name}.weight", w(f"{name}.weight")), const(f"{name}.bias", w(f"{name}.bias"))],
            axis=-1,
            epsilon=eps,
        )

    # --- embeddings: word + position + token type 0, then LayerNorm
    one = const("one_i64", np.array(1, dtype=np.int64))
    seq_len = node("Gather", [node("Shape", ["input_ids"]), one], axis=0)
    positions = node("Range", [const("zero_i64", np.array(0, dtype=np.int64)), seq_len, one])
    x = node("Gather", [const("embeddings.word_embeddings.weight", w("embeddings.word_embeddings.weight")), "input_ids"], axis=0)
    x = node("Add", [x, node("Gather", [const("embeddings.position_embeddings.weight", w("embeddings.position_embeddings.weight")), positions], axis=0)])
    x = node("Add", [x, const("embeddings.token_type_0", w("embeddings.token_type_embeddings.weight")[0])])
    x = layer_norm(x, "embeddings.LayerNorm")

    # --- additive attention mask (batch, 1, 1, tokens): 0 where attended, float32 min elsewhere
    mask_f = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    neg = const("mask_min", np.array(np.finfo(np.float32).min, dtype=np.float32))
    one_f = const("one_f", np.array(1.0, dtype=np.float32))
    additive = node("Mul", [node("Sub", [one_f, mask_f]), neg])
    additive = node("Unsqueeze", [additive, const("axes_1_2", np.array([1, 2], dtype=np.int64))])

    split_heads = const("shape_split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_heads = const("shape_merge_heads", np.array([0, 0, hidden], dtype=np.int64))
    scale = const("attention_scale", np.array(1.0 / math.sqrt(head_dim), dtype=np.float32))
    sqrt_half = const("inv_sqrt2", np.array(1.0 / math.sqrt(2.0), dtype=np.float32))
    half = const("half", np.array(0.5, dtype=np.float32))

    for layer in range(desc["num_hidden_layers"]):
        p = f"encoder.layer.{layer}"

        def heads_of(t: str) -> str:
            return node("Transpose", [node("Reshape", [t, split_heads])], perm=[0, 2, 1, 3])  # (b, h, s, d)

        q = heads_of(linear(x, f"{p}.attention.self.query"))
        k = node("Transpose", [node("Reshape", [linear(x, f"{p}.attention.self.key"), split_heads])], perm=[0, 2, 3, 1])
        v = heads_of(linear(x, f"{p}.attention.self.value"))
        scores = node("Add", [node("Mul", [node("MatMul", [q, k]), scale]), additive])
        probs = node("Softmax", [scores], axis=-1)
        context = node("Reshape", [node("Transpose", [node("MatMul", [probs, v])], perm=[0, 2, 1, 3]), merge_heads])
        x = layer_norm(node("Add", [linear(context, f"{p}.attention.output.dense"), x]), f"{p}.attention.output.LayerNorm")
        inner = linear(x, f"{p}.intermediate.dense")
        gelu = node("Mul", [node("Mul", [inner, half]), node("Add", [node("Erf", [node("Mul", [inner, sqrt_half])]), one_f])])
        x = layer_norm(node("Add", [linear(gelu, f"{p}.output.dense"), x]), f"{p}.output.LayerNorm")

    # --- mean pooling over attended tokens, then L2 normalisation (as torch F.normalize, eps 1e-12)
    mask3 = node("Unsqueeze", [mask_f, const("axes_2", np.array([2], dtype=np.int64))])
    token_axis = const("axes_tokens", np.array([1], dtype=np.int64))
    summed = node("ReduceSum", [node("Mul", [x, mask3]), token_axis], keepdims=0)
    counts = node("Max", [node("ReduceSum", [mask3, token_axis], keepdims=0), const("count_eps", np.array(1e-9, dtype=np.float32))])
    mean = node("Div", [summed, counts])
    norm = node("Max", [node("ReduceL2", [mean, const("axes_last", np.array([-1], dtype=np.int64))], keepdims=1),
                        const("norm_eps", np.array(1e-12, dtype=np.float32))])
    nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"]))

    graph = helper.make_graph(
        nodes,
        "sentence_encoder",
        inputs=[
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        outputs=[helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="integration-policy-assistant",
        producer_version=str(EXPORT_VERSION),
        ir_version=IR_VERSION,
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def save_model(model, graph_path: Path, data_name: str) -> None:
    """Write ``model`` as ``graph_path`` with every weight in ``data_name`` beside it (ONNX
    external data, which ONNX Runtime memory-maps instead of copying). Moves the weights out of
    ``model``."""
    import onnx

    onnx.save_model(model, str(graph_path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data_name, size_threshold=1024)
