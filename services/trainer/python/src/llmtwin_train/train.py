"""`train`: LoRA SFT with TRL's SFTTrainer, then DPO on the SFT adapter when the spec has preference data, then
the outputs (PEFT adapter folder, GGUF LoRA, optionally merged weights).

Loss: the chat-messages records are handed to TRL as conversational prompt-completion pairs (the last,
assistant message is the completion), so the loss covers the assistant's answer only (TRL's completion-only
loss). TRL's assistant_only_loss would need `{% generation %}` markers that SmolLM2's template lacks and TRL
cannot patch in; with one assistant turn per record both mask the same tokens.

workDir layout: checkpoints/sft/checkpoint-N and checkpoints/dpo/checkpoint-N (a checkpoint counts once it
holds COMPLETE, written after the trainer finished saving it, so one cut short by kill -9 is never resumed
from), sft-adapter/ (the SFT result, the start of DPO), state.json, adapter/, adapter.gguf, merged/.
"""

import json
import os
import re
import shutil
import time

from . import events
from .spec import SpecError, TrainSpec, read_jsonl

COMPLETE = "COMPLETE"


class Stop:
    """SIGTERM during training asks the trainer to save and stop at the end of the current step."""

    def __init__(self):
        self.requested = False
        self.training = False


def newest_checkpoint(folder: str) -> tuple[str, int] | None:
    best = None
    if not os.path.isdir(folder):
        return None
    for name in os.listdir(folder):
        m = re.fullmatch(r"checkpoint-(\d+)", name)
        path = os.path.join(folder, name)
        if m and os.path.isfile(os.path.join(path, COMPLETE)):
            step = int(m.group(1))
            if best is None or step > best[1]:
                best = (path, step)
    return best


def _read_state(work_dir: str) -> dict:
    try:
        with open(os.path.join(work_dir, "state.json"), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def _write_state(work_dir: str, state: dict) -> None:
    tmp = os.path.join(work_dir, "state.json.partial")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f)
    os.replace(tmp, os.path.join(work_dir, "state.json"))


# Held-out examples scored for eval_loss during SFT: enough for a steady mean, few enough to cost seconds.
EVAL_EXAMPLES = 32


def sft_records(path: str, field: str = "sft.train") -> list:
    rows = read_jsonl(path, field)
    out = []
    for n, row in enumerate(rows, 1):
        messages = row.get("messages") if isinstance(row, dict) else None
        if not isinstance(messages, list) or len(messages) < 2 or not all(isinstance(m, dict) for m in messages):
            raise SpecError(f"{field} {path}: record {n} has no \"messages\" list (chat-messages/1)")
        if messages[-1].get("role") != "assistant":
            raise SpecError(f"{field} {path}: record {n} does not end with an assistant message")
        clean = [{"role": m.get("role"), "content": m.get("content")} for m in messages]
        out.append({"prompt": clean[:-1], "completion": clean[-1:]})
    return out


def dpo_records(path: str) -> list:
    rows = read_jsonl(path, "dpo.train")
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not all(isinstance(row.get(k), list) for k in ("prompt", "chosen", "rejected")):
            raise SpecError(f"dpo.train {path}: record {n} needs prompt, chosen and rejected message lists")
    return [{k: row[k] for k in ("prompt", "chosen", "rejected")} for row in rows]


def _callback(phase: str, offset: int, total: int, stop: Stop, tally: dict):
    from transformers import TrainerCallback

    from .models import memory_bytes

    class Events(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.last_time = time.monotonic()
            self.last_tokens = state.num_input_tokens_seen
            self.first_tokens = state.num_input_tokens_seen
            self.started = self.last_time

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= state.max_steps and args.eval_strategy != "no":
                control.should_evaluate = True  # the last step too, whatever the interval
            if stop.requested:
                control.should_save = True
                control.should_training_stop = True

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "loss" not in logs:  # the end-of-training summary (train_loss, train_runtime, ...)
                return
            now = time.monotonic()
            tokens = state.num_input_tokens_seen - self.last_tokens
            seconds = now - self.last_time
            self.last_time, self.last_tokens = now, state.num_input_tokens_seen
            # transformers' own running speed figures are over the whole session; ours is over the last interval.
            skip = {"num_input_tokens_seen", "train_runtime", "train_tokens_per_second"}
            metrics = {k: v for k, v in logs.items() if isinstance(v, (int, float)) and k not in skip}
            metrics["tokens_per_second"] = tokens / seconds if tokens > 0 and seconds > 0 else None
            metrics["memory_bytes"] = memory_bytes()
            metrics["epoch"] = state.epoch
            events.emit("metrics", phase=phase, step=offset + state.global_step, totalSteps=total, metrics=metrics)

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            # The loss on the author's held-out answers: per-step training loss on fresh batches of mixed
            # writing is noisy within an epoch, this one is measured on the same examples every time.
            value = (metrics or {}).get("eval_loss")
            if isinstance(value, (int, float)):
                events.emit(
                    "metrics", phase=phase, step=offset + state.global_step, totalSteps=total,
                    metrics={"eval_loss": value},
                )

        def on_save(self, args, state, control, **kwargs):
            path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
            if os.path.isdir(path):
                open(os.path.join(path, COMPLETE), "w").close()
                events.emit("checkpoint", phase=phase, step=offset + state.global_step, path=path)

        def on_train_end(self, args, state, control, **kwargs):
            tally["tokens"] += state.num_input_tokens_seen - self.first_tokens
            tally["seconds"] += time.monotonic() - self.started

    return Events()


def _common_args(spec: TrainSpec, output_dir: str, steps: int) -> dict:
    import torch

    h = spec.hyper
    return dict(
        output_dir=output_dir,
        max_steps=steps,
        learning_rate=h["learningRate"],
        per_device_train_batch_size=h["batchSize"],
        gradient_accumulation_steps=h["gradientAccumulation"],
        # A float below 1 is a ratio of the steps in transformers 5.
        warmup_steps=h["warmupRatio"],
        logging_steps=h["logSteps"],
        save_strategy="steps",
        save_steps=h["saveSteps"],
        save_total_limit=3,
        seed=h["seed"],
        data_seed=h["seed"],
        bf16=h["bf16"] and torch.cuda.is_available(),
        gradient_checkpointing=h["gradientCheckpointing"],
        max_length=h["maxSeqLength"],
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
        include_num_input_tokens_seen="non_padding",
        eval_strategy="no",
    )


def run(spec: TrainSpec, stop: Stop) -> int:
    import torch
    from transformers import set_seed

    from .models import attention_heads, hardware, load_model, load_tokenizer

    torch.set_num_threads(spec.threads)
    h = spec.hyper
    work = spec.work_dir
    ckpt_sft = os.path.join(work, "checkpoints", "sft")
    ckpt_dpo = os.path.join(work, "checkpoints", "dpo")
    sft_adapter = os.path.join(work, "sft-adapter")
    os.makedirs(work, exist_ok=True)

    # Read the data before the model: a bad file fails in a second, not after loading.
    sft_data = sft_records(spec.sft_train)
    eval_data = sft_records(spec.sft_eval, "sft.eval")[:EVAL_EXAMPLES] if spec.sft_eval else []
    dpo_steps = h["dpoSteps"] if spec.dpo_train else 0
    dpo_data = dpo_records(spec.dpo_train) if dpo_steps > 0 else None
    total = h["maxSteps"] + dpo_steps

    if not spec.resume:
        for path in (os.path.join(work, "checkpoints"), sft_adapter, os.path.join(work, "state.json")):
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
    state = _read_state(work)
    sft_done = state.get("sftDone") is True and os.path.isfile(os.path.join(sft_adapter, "adapter_config.json"))
    from_sft = newest_checkpoint(ckpt_sft) if spec.resume and not sft_done else None
    from_dpo = newest_checkpoint(ckpt_dpo) if spec.resume and sft_done and dpo_steps > 0 else None
    if from_dpo:
        resumed_from = h["maxSteps"] + from_dpo[1]
    elif sft_done:
        resumed_from = h["maxSteps"]
    elif from_sft:
        resumed_from = from_sft[1]
    else:
        resumed_from = None
    events.emit("start", pid=os.getpid(), hardware=hardware(), totalSteps=total, resumedFrom=resumed_from)

    set_seed(h["seed"])
    events.emit("phase", phase="loading")
    tokenizer = load_tokenizer(spec.base)
    model = load_model(spec.base, quantization=h["quantization"], bf16=h["bf16"])
    tally = {"tokens": 0, "seconds": 0.0}

    from datasets import Dataset
    from peft import LoraConfig, PeftModel

    if not sft_done:
        from trl import SFTConfig, SFTTrainer

        events.emit("phase", phase="sft")
        lora = LoraConfig(
            r=h["loraRank"],
            lora_alpha=h["loraAlpha"],
            lora_dropout=h["loraDropout"],
            target_modules=h["targetModules"],
            bias="none",
            task_type="CAUSAL_LM",
        )
        args = _common_args(spec, ckpt_sft, h["maxSteps"])
        if eval_data:
            # Scored before the first step (unless resuming), at every checkpoint, and so at the end.
            args.update(
                eval_strategy="steps",
                eval_steps=h["saveSteps"],
                eval_on_start=from_sft is None,
                per_device_eval_batch_size=h["batchSize"],
            )
        config = SFTConfig(**args, completion_only_loss=True)
        trainer = SFTTrainer(
            model=model,
            args=config,
            train_dataset=Dataset.from_list(sft_data),
            eval_dataset=Dataset.from_list(eval_data) if eval_data else None,
            processing_class=tokenizer,
            peft_config=lora,
            callbacks=[_callback("sft", 0, total, stop, tally)],
        )
        stop.training = True
        trainer.train(resume_from_checkpoint=from_sft[0] if from_sft else None)
        stop.training = False
        if stop.requested:
            return 143
        model = trainer.model
        model.save_pretrained(sft_adapter)
        _write_state(work, {"sftDone": True})
    else:
        model = PeftModel.from_pretrained(model, sft_adapter, is_trainable=dpo_steps > 0)

    if dpo_steps > 0:
        from trl import DPOConfig, DPOTrainer

        events.emit("phase", phase="dpo")
        # A PeftModel without a ref_model: TRL copies the SFT adapter into a frozen "ref" adapter, so the
        # reference policy is the SFT model, as DPO expects.
        config = DPOConfig(**_common_args(spec, ckpt_dpo, dpo_steps), beta=h["dpoBeta"])
        trainer = DPOTrainer(
            model=model,
            args=config,
            train_dataset=Dataset.from_list(dpo_data),
            processing_class=tokenizer,
            callbacks=[_callback("dpo", h["maxSteps"], total, stop, tally)],
        )
        stop.training = True
        trainer.train(resume_from_checkpoint=from_dpo[0] if from_dpo else None)
        stop.training = False
        if stop.requested:
            return 143
        model = trainer.model

    events.emit("phase", phase="export")
    if "ref" in getattr(model, "peft_config", {}):
        model.delete_adapter("ref")
    adapter_dir = os.path.join(work, "adapter")
    model.save_pretrained(adapter_dir, selected_adapters=["default"])
    events.emit("artifact", kind="peft-adapter", path=adapter_dir, mediaType="application/vnd.llmtwin.peft-adapter")
    if spec.gguf_lora:
        from .gguf_lora import architecture_of, convert_adapter, gguf_architecture

        arch = gguf_architecture(spec.base.gguf) if spec.base.gguf else architecture_of(model.config.model_type)
        n_head, n_kv_head = attention_heads(model)
        gguf_path = os.path.join(work, "adapter.gguf")
        convert_adapter(adapter_dir, gguf_path, arch, n_head, n_kv_head)
        events.emit("artifact", kind="gguf-lora", path=gguf_path, mediaType="application/vnd.llmtwin.gguf-lora")
    if spec.merged:
        merged_dir = os.path.join(work, "merged")
        merged = model.merge_and_unload()
        merged.save_pretrained(merged_dir)
        tokenizer.save_pretrained(merged_dir)
        events.emit("artifact", kind="merged", path=merged_dir, mediaType="application/vnd.llmtwin.safetensors-model")
    tokens, seconds = tally["tokens"], tally["seconds"]
    events.emit(
        "done",
        steps=total,
        trainTokens=tokens,
        trainSeconds=seconds,
        tokensPerSecond=tokens / seconds if seconds > 0 else None,
    )
    return 0
