"""`perplexity` and `generate`: the base is loaded once; each adapter given is loaded beside it as a named
PEFT adapter and switched to, and the base role runs with the adapters disabled."""

import contextlib
import math
import time

from . import events
from .spec import EvalSpec, SpecError, read_jsonl


def _models(spec: EvalSpec):
    import torch

    from .models import load_model, load_tokenizer

    torch.set_num_threads(spec.threads)
    tokenizer = load_tokenizer(spec.base)
    model = load_model(spec.base)
    model.eval()
    roles = [("base", None)]
    if spec.adapters:
        from peft import PeftModel

        first = True
        for role, folder in spec.adapters.items():
            if first:
                model = PeftModel.from_pretrained(model, folder, adapter_name=role)
                first = False
            else:
                model.load_adapter(folder, adapter_name=role)
            roles.append((role, role))
        model.eval()
    return tokenizer, model, roles


@contextlib.contextmanager
def _as(model, adapter):
    if adapter is None:
        if hasattr(model, "disable_adapter"):
            with model.disable_adapter():
                yield
        else:
            yield
    else:
        model.set_adapter(adapter)
        yield


def perplexity(spec: EvalSpec) -> int:
    import torch

    rows = read_jsonl(spec.texts, "texts")
    texts = []
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"].strip():
            raise SpecError(f"texts {spec.texts}: line {n} needs a non-empty \"text\"")
        texts.append(row["text"])
    tokenizer, model, roles = _models(spec)
    device = next(model.parameters()).device
    encoded = [
        tokenizer(t, return_tensors="pt", truncation=True, max_length=spec.max_seq_length)["input_ids"] for t in texts
    ]
    for role, adapter in roles:
        started = time.monotonic()
        nll, count = 0.0, 0
        with _as(model, adapter), torch.no_grad():
            for ids in encoded:
                if ids.shape[1] < 2:
                    continue
                ids = ids.to(device)
                out = model(input_ids=ids, labels=ids)
                n = ids.shape[1] - 1  # the loss is a mean over the predicted (shifted) positions
                nll += float(out.loss) * n
                count += n
        if count == 0:
            raise SpecError(f"texts {spec.texts}: no text has two tokens or more")
        events.emit(
            "perplexity",
            role=role,
            perplexity=math.exp(nll / count),
            tokens=count,
            seconds=time.monotonic() - started,
        )
    return 0


def generate(spec: EvalSpec) -> int:
    import torch

    rows = read_jsonl(spec.prompts, "prompts")
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("messages"), list):
            raise SpecError(f"prompts {spec.prompts}: line {n} needs \"id\" and a \"messages\" list")
    tokenizer, model, roles = _models(spec)
    device = next(model.parameters()).device
    for role, adapter in roles:
        with _as(model, adapter), torch.no_grad():
            for row in rows:
                text = tokenizer.apply_chat_template(row["messages"], add_generation_prompt=True, tokenize=False)
                ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"].to(device)
                out = model.generate(
                    input_ids=ids,
                    attention_mask=torch.ones_like(ids),
                    max_new_tokens=spec.max_new_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                )
                answer = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
                events.emit("answer", role=role, id=row["id"], text=answer)
    return 0
