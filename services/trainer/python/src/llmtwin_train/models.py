"""Loading the base model and tokenizer, and describing the machine."""

import os
import socket

import psutil
import torch

from .spec import Base, SpecError


def hardware() -> dict:
    cuda = torch.cuda.is_available()
    return {
        "accelerator": "cuda" if cuda else "cpu",
        "deviceName": torch.cuda.get_device_name(0) if cuda else None,
        "deviceCount": torch.cuda.device_count() if cuda else 0,
        "deviceMemoryBytes": torch.cuda.get_device_properties(0).total_memory if cuda else None,
        "cpuCount": os.cpu_count(),
        "memoryBytes": psutil.virtual_memory().total,
        "host": socket.gethostname(),
    }


def memory_bytes() -> int:
    if torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated())
    return int(psutil.Process().memory_info().rss)


def _source(base: Base) -> tuple[str, dict]:
    # A GGUF base goes through transformers' GGUF support, from its folder and name.
    if base.gguf:
        return os.path.dirname(os.path.abspath(base.gguf)), {"gguf_file": os.path.basename(base.gguf)}
    return base.model, {}


def _dense(model):
    """A GGUF base loaded with dequantize=True is a plain float model that still carries its GGUF quantizer,
    and transformers' Trainer refuses to train anything "quantized with GGUF". Dropping the marker is right
    because every weight was unpacked at load (the config asks for it: packed GGUF blocks, which transformers
    keeps when the optional `kernels` package is installed, could take neither LoRA training nor a merge)."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model


def load_tokenizer(base: Base):
    from transformers import AutoTokenizer

    where, extra = _source(base)
    tokenizer = AutoTokenizer.from_pretrained(where, **extra)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        raise SpecError(f"the base {base.describe()} has no chat template; the datasets are chat messages")
    return tokenizer


def load_model(base: Base, *, quantization: str = "none", bf16: bool = False):
    from transformers import AutoModelForCausalLM

    where, extra = _source(base)
    cuda = torch.cuda.is_available()
    kwargs = dict(extra)
    if quantization == "4bit":
        if not cuda:
            raise SpecError('hyper.quantization "4bit" (QLoRA) needs a CUDA device; this machine has none: use "none"')
        try:
            import bitsandbytes  # noqa: F401
        except Exception as e:  # an import error of its CUDA libraries is as fatal as a missing package
            raise SpecError(f'hyper.quantization "4bit" (QLoRA) needs bitsandbytes, which does not import: {e}')
        if base.gguf:
            raise SpecError('hyper.quantization "4bit" needs baseModel (safetensors); a GGUF base is dequantized, not re-quantized')
        from transformers import BitsAndBytesConfig

        compute = torch.bfloat16 if bf16 else torch.float16
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute, bnb_4bit_use_double_quant=True
        )
        kwargs["device_map"] = {"": 0}
    else:
        # float32 on CPU: CPUs have no fast half-precision matmuls and LoRA on fp16 weights underflows.
        kwargs["dtype"] = torch.bfloat16 if (bf16 and cuda) else torch.float32
    if base.gguf:
        from transformers import GgufConfig

        kwargs["quantization_config"] = GgufConfig(dequantize=True)
    model = AutoModelForCausalLM.from_pretrained(where, **kwargs)
    if base.gguf:
        model = _dense(model)
    if cuda and quantization != "4bit":
        model.to("cuda")
    return model


def attention_heads(model) -> tuple[int, int]:
    config = model.config
    n_head = config.num_attention_heads
    return n_head, getattr(config, "num_key_value_heads", None) or n_head
