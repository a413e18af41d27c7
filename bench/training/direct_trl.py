"""The baseline of bench/training.ts: the same LoRA SFT as `python -m llmtwin_train train`, written as a plain
TRL script with nothing around it (no events, no callback, no checkpoints, no export). Same base, data
conversion (chat messages → conversational prompt-completion, completion-only loss), LoRA and trainer
settings, seed and threads; prints one JSON line with the training throughput.

python direct_trl.py --base-gguf F --train train.jsonl --steps N --threads T --batch B --seq L --lr X --rank R --alpha A
"""

import argparse
import json
import os
import sys
import time

started = time.monotonic()
# As the job sets it: with HF tokenizers' thread pool on, 3 LoRA steps on 2 cores took 14 s each instead of 2
# (measured here: 10-17 tokens/s against 143), so without it the comparison would measure that, not the wrapper.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
result_out = sys.stdout
sys.stdout = sys.stderr  # the trainer's log lines; stdout carries only the result
p = argparse.ArgumentParser()
p.add_argument("--base-gguf", required=True)
p.add_argument("--train", required=True)
p.add_argument("--steps", type=int, required=True)
p.add_argument("--threads", type=int, required=True)
p.add_argument("--batch", type=int, default=2)
p.add_argument("--seq", type=int, default=256)
p.add_argument("--lr", type=float, default=2e-4)
p.add_argument("--rank", type=int, default=8)
p.add_argument("--alpha", type=float, default=16)
p.add_argument("--seed", type=int, default=42)
a = p.parse_args()

import torch
from datasets import Dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig, TrainerCallback, set_seed
from trl import SFTConfig, SFTTrainer

torch.set_num_threads(a.threads)
set_seed(a.seed)
folder, name = os.path.dirname(os.path.abspath(a.base_gguf)), os.path.basename(a.base_gguf)
tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
if tokenizer.pad_token is None:
    tokenizer.pad_token = tokenizer.eos_token
model = AutoModelForCausalLM.from_pretrained(
    folder, gguf_file=name, dtype=torch.float32, quantization_config=GgufConfig(dequantize=True)
)
model.hf_quantizer = None  # dequantized at load; the Trainer refuses "GGUF-quantized" models otherwise
if hasattr(model.config, "quantization_config"):
    del model.config.quantization_config

rows = []
with open(a.train, encoding="utf-8") as f:
    for line in f:
        if line.strip():
            m = json.loads(line)["messages"]
            rows.append({"prompt": m[:-1], "completion": m[-1:]})

config = SFTConfig(
    output_dir=os.path.join(os.environ.get("TMPDIR", "/tmp"), f"direct-trl-{os.getpid()}"),
    max_steps=a.steps,
    learning_rate=a.lr,
    # TRL's own defaults differ from the job's spec defaults (gradient checkpointing on, bf16 autocast on CPU);
    # set as the job sets them, so both run the same computation.
    gradient_checkpointing=False,
    bf16=False,
    per_device_train_batch_size=a.batch,
    gradient_accumulation_steps=1,
    warmup_steps=0.1,
    logging_steps=1,
    save_strategy="no",
    seed=a.seed,
    data_seed=a.seed,
    max_length=a.seq,
    report_to="none",
    disable_tqdm=True,
    dataloader_num_workers=0,
    use_cpu=not torch.cuda.is_available(),
    include_num_input_tokens_seen="non_padding",
    eval_strategy="no",
    completion_only_loss=True,
)
lora = LoraConfig(r=a.rank, lora_alpha=a.alpha, lora_dropout=0.05, target_modules="all-linear", bias="none", task_type="CAUSAL_LM")


class Clock(TrainerCallback):
    """Only a stopwatch, over the same span as the job's own count (train begin to train end)."""

    def on_train_begin(self, args, state, control, **kwargs):
        self.begin = time.monotonic()

    def on_train_end(self, args, state, control, **kwargs):
        self.end = time.monotonic()


clock = Clock()
trainer = SFTTrainer(
    model=model,
    args=config,
    train_dataset=Dataset.from_list(rows),
    processing_class=tokenizer,
    peft_config=lora,
    callbacks=[clock],
)
trainer.train()
seconds = clock.end - clock.begin
tokens = trainer.state.num_input_tokens_seen
print(
    json.dumps(
        {
            "trainTokens": tokens,
            "trainSeconds": seconds,
            "tokensPerSecond": tokens / seconds,
            "wallSeconds": time.monotonic() - started,
        }
    ),
    file=result_out,
    flush=True,
)
