"""PEFT LoRA adapter → GGUF LoRA adapter, as llama.cpp (and node-llama-cpp) load it.

Written from the format, not from llama.cpp's converter: the file is a GGUF with
  general.architecture  the base's (llama, qwen2, ...)
  general.type          "adapter"
  adapter.type          "lora"
  adapter.lora.alpha    float32; llama.cpp scales each pair by alpha / rank, as PEFT does by lora_alpha / r
and for every adapted projection two tensors, `blk.{i}.<proj>.weight.lora_a` and `.lora_b`, in PEFT's own
numpy order: lora_A [r, in] and lora_B [out, r] (GGUF lists dimensions the other way round, so llama.cpp sees
a as [in, r] and b as [r, out], which is what it checks against the [in, out] base weight).

One twist: llama.cpp's llama models keep q and k weights with the rows of each head interleaved for its
rotary embedding (its converter permutes HF weights; transformers undoes that when it loads a GGUF). The
update B·A of a weight permutes with its rows, that is with the rows of B, so q's and k's lora_B get the
same permutation, with the query heads for q and the key/value heads for k.

Only numpy and gguf are needed here (no torch), so the unit tests run without a model.
"""

import json
import math
import os
import re

import numpy as np

# HF module name (last two parts) → llama.cpp tensor name inside blk.{i}
MODULES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}

# transformers model_type → GGUF general.architecture, for a base loaded from safetensors. Mistral is a
# llama to llama.cpp (same tensors, same rotary layout).
ARCHITECTURES = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2", "qwen3": "qwen3"}

# Architectures whose GGUF q/k weights carry llama.cpp's rotary permutation of the HF rows.
PERMUTED = {"llama"}

_KEY = re.compile(
    r"^(?:base_model\.model\.)?model\.layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)"
    r"\.lora_([AB])(?:\.[A-Za-z0-9_]+)?\.weight$"
)


class ConversionError(ValueError):
    pass


def permute_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's rotary permutation of an HF q/k weight's rows (also right for a LoRA B: [out, r])."""
    if w.shape[0] % (n_head * 2) != 0:
        raise ConversionError(f"cannot permute {w.shape[0]} rows for {n_head} heads")
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def tensor_name(peft_key: str) -> tuple[str, str]:
    """('blk.3.attn_q.weight', 'lora_a') for a PEFT key; ConversionError for anything else."""
    m = _KEY.match(peft_key)
    if m is None:
        raise ConversionError(
            f"adapter tensor {peft_key!r} is not on a llama-style attention or MLP projection; "
            "the GGUF export supports q/k/v/o and gate/up/down (use targetModules all-linear or a subset of those)"
        )
    layer, module, ab = m.groups()
    return f"blk.{int(layer)}.{MODULES[module]}.weight", "lora_a" if ab == "A" else "lora_b"


def effective_alpha(adapter_config: dict) -> float:
    """The alpha that makes llama.cpp's alpha / rank equal PEFT's scale (lora_alpha / sqrt(r) with rsLoRA)."""
    if adapter_config.get("use_dora"):
        raise ConversionError("DoRA adapters have no GGUF LoRA form")
    r = adapter_config["r"]
    alpha = float(adapter_config["lora_alpha"])
    for pattern in ("rank_pattern", "alpha_pattern"):
        if adapter_config.get(pattern):
            raise ConversionError(f"adapter_config.{pattern} (per-module ranks or alphas) is not supported")
    return alpha * math.sqrt(r) if adapter_config.get("use_rslora") else alpha


def convert_tensors(tensors: dict, arch: str, n_head: int, n_kv_head: int) -> dict:
    """PEFT state dict (numpy arrays) → {gguf tensor name: float32 array}, permuted where llama.cpp needs it."""
    out = {}
    for key, value in tensors.items():
        base, part = tensor_name(key)
        array = np.ascontiguousarray(np.asarray(value, dtype=np.float32))
        if part == "lora_b" and arch in PERMUTED:
            if ".attn_q." in base:
                array = permute_rows(array, n_head)
            elif ".attn_k." in base:
                array = permute_rows(array, n_kv_head)
        out[f"{base}.{part}"] = np.ascontiguousarray(array)
    names = {n.rsplit(".", 1)[0] for n in out}
    for n in names:
        if f"{n}.lora_a" not in out or f"{n}.lora_b" not in out:
            raise ConversionError(f"{n}: the adapter has only one of lora_A and lora_B")
    return out


def write(path: str, arch: str, alpha: float, tensors: dict) -> None:
    import gguf

    tmp = f"{path}.partial"
    writer = gguf.GGUFWriter(tmp, arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for name in sorted(tensors, key=_order):
        writer.add_tensor(name, tensors[name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, path)


def _order(name: str):
    m = re.match(r"blk\.(\d+)\.(.*)", name)
    return (int(m.group(1)), m.group(2)) if m else (-1, name)


def gguf_architecture(gguf_file: str) -> str:
    import gguf

    reader = gguf.GGUFReader(gguf_file)
    field = reader.fields["general.architecture"]
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def architecture_of(model_type: str) -> str:
    if model_type not in ARCHITECTURES:
        raise ConversionError(
            f"no GGUF LoRA export for model type {model_type!r} (supported: {', '.join(sorted(ARCHITECTURES))})"
        )
    return ARCHITECTURES[model_type]


def convert_adapter(adapter_dir: str, out_path: str, arch: str, n_head: int, n_kv_head: int) -> dict:
    """Reads a saved PEFT adapter folder and writes the GGUF file; returns a summary."""
    # Through torch: numpy has no bfloat16, which a GPU run's adapter may be saved in.
    from safetensors.torch import load_file

    with open(os.path.join(adapter_dir, "adapter_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    state = load_file(os.path.join(adapter_dir, "adapter_model.safetensors"))
    tensors = convert_tensors({k: v.float().numpy() for k, v in state.items()}, arch, n_head, n_kv_head)
    alpha = effective_alpha(config)
    write(out_path, arch, alpha, tensors)
    return {"tensors": len(tensors), "alpha": alpha, "rank": config["r"], "architecture": arch}
