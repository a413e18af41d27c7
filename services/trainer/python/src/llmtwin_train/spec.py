"""Reading and checking the spec files (docs/training.md). Every problem names the field, so the caller can
say what to fix; nothing heavy is imported here, so a bad spec fails in well under a second."""

import json
import os
from dataclasses import dataclass, field


class SpecError(ValueError):
    pass


HYPER_DEFAULTS = {
    "maxSteps": 30,
    "dpoSteps": 10,
    "learningRate": 2e-4,
    "loraRank": 8,
    "loraAlpha": 16,
    "loraDropout": 0.05,
    "targetModules": "all-linear",
    "batchSize": 2,
    "gradientAccumulation": 1,
    "maxSeqLength": 256,
    "seed": 42,
    "warmupRatio": 0.1,
    "saveSteps": 10,
    "logSteps": 1,
    "quantization": "none",
    "bf16": False,
    "gradientCheckpointing": False,
    "dpoBeta": 0.1,
}


@dataclass
class Base:
    model: str | None
    gguf: str | None

    def describe(self) -> str:
        return self.gguf or self.model or "?"


@dataclass
class TrainSpec:
    run_id: str
    work_dir: str
    base: Base
    sft_train: str
    sft_eval: str | None
    dpo_train: str | None
    hyper: dict
    resume: bool
    gguf_lora: bool
    merged: bool
    threads: int


@dataclass
class EvalSpec:
    base: Base
    adapters: dict  # role -> folder; only the roles given
    max_seq_length: int
    threads: int
    texts: str | None = None
    prompts: str | None = None
    max_new_tokens: int = 128
    extra: dict = field(default_factory=dict)


def load(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except FileNotFoundError:
        raise SpecError(f"--spec {path}: no such file")
    except json.JSONDecodeError as e:
        raise SpecError(f"--spec {path}: not JSON ({e})")
    if not isinstance(value, dict):
        raise SpecError(f"--spec {path}: the spec must be a JSON object")
    return value


def _str(obj: dict, key: str, where: str, required=True) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise SpecError(f"{where}{key} is required")
        return None
    if not isinstance(value, str) or value.strip() == "":
        raise SpecError(f"{where}{key} must be a non-empty string (got {json.dumps(value)})")
    return value


def _file(obj: dict, key: str, where: str, required=True) -> str | None:
    value = _str(obj, key, where, required)
    if value is not None and not os.path.isfile(value):
        raise SpecError(f"{where}{key}: no file at {value}")
    return value


def _number(value, name: str, *, integer=False, minimum=None, exclusive_min=None, maximum=None):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and integer and not (isinstance(value, int) or float(value).is_integer()):
        ok = False
    if ok and minimum is not None and value < minimum:
        ok = False
    if ok and exclusive_min is not None and value <= exclusive_min:
        ok = False
    if ok and maximum is not None and value > maximum:
        ok = False
    if not ok:
        kind = "an integer" if integer else "a number"
        bounds = []
        if minimum is not None:
            bounds.append(f">= {minimum}")
        if exclusive_min is not None:
            bounds.append(f"> {exclusive_min}")
        if maximum is not None:
            bounds.append(f"<= {maximum}")
        raise SpecError(f"{name} must be {kind}{' ' + ' and '.join(bounds) if bounds else ''} (got {json.dumps(value)})")
    return int(value) if integer else float(value)


def _base(spec: dict) -> Base:
    model = _str(spec, "baseModel", "", required=False)
    gguf = _str(spec, "baseGguf", "", required=False)
    if model is None and gguf is None:
        raise SpecError("baseModel or baseGguf is required (a Hugging Face id or folder, or a GGUF file)")
    if gguf is not None and not os.path.isfile(gguf):
        raise SpecError(f"baseGguf: no file at {gguf}")
    return Base(model=model, gguf=gguf)


def _threads(spec: dict) -> int:
    value = spec.get("threads")
    if value is None:
        return max(1, os.cpu_count() or 1)
    return _number(value, "threads", integer=True, minimum=1)


def parse_train(spec: dict) -> TrainSpec:
    run_id = _str(spec, "runId", "")
    work_dir = _str(spec, "workDir", "")
    if not os.path.isabs(work_dir):
        raise SpecError(f"workDir must be an absolute path (got {json.dumps(work_dir)})")
    base = _base(spec)
    sft = spec.get("sft")
    if not isinstance(sft, dict):
        raise SpecError("sft is required: {\"train\": \"/abs/train.jsonl\", \"eval\": \"/abs/test.jsonl\"}")
    sft_train = _file(sft, "train", "sft.")
    sft_eval = _file(sft, "eval", "sft.", required=False)
    dpo = spec.get("dpo")
    dpo_train = None
    if dpo is not None:
        if not isinstance(dpo, dict):
            raise SpecError("dpo must be null or {\"train\": \"/abs/preference-train.jsonl\"}")
        dpo_train = _file(dpo, "train", "dpo.")
    raw = spec.get("hyper", {})
    if not isinstance(raw, dict):
        raise SpecError("hyper must be an object")
    unknown = sorted(set(raw) - set(HYPER_DEFAULTS))
    if unknown:
        raise SpecError(f"hyper.{unknown[0]} is not a known hyperparameter (known: {', '.join(HYPER_DEFAULTS)})")
    h = {**HYPER_DEFAULTS, **raw}
    hyper = {
        "maxSteps": _number(h["maxSteps"], "hyper.maxSteps", integer=True, minimum=1),
        "dpoSteps": _number(h["dpoSteps"], "hyper.dpoSteps", integer=True, minimum=0),
        "learningRate": _number(h["learningRate"], "hyper.learningRate", exclusive_min=0, maximum=1),
        "loraRank": _number(h["loraRank"], "hyper.loraRank", integer=True, minimum=1),
        "loraAlpha": _number(h["loraAlpha"], "hyper.loraAlpha", exclusive_min=0),
        "loraDropout": _number(h["loraDropout"], "hyper.loraDropout", minimum=0, maximum=0.9),
        "batchSize": _number(h["batchSize"], "hyper.batchSize", integer=True, minimum=1),
        "gradientAccumulation": _number(h["gradientAccumulation"], "hyper.gradientAccumulation", integer=True, minimum=1),
        "maxSeqLength": _number(h["maxSeqLength"], "hyper.maxSeqLength", integer=True, minimum=8),
        "seed": _number(h["seed"], "hyper.seed", integer=True, minimum=0),
        "warmupRatio": _number(h["warmupRatio"], "hyper.warmupRatio", minimum=0, maximum=0.9),
        "saveSteps": _number(h["saveSteps"], "hyper.saveSteps", integer=True, minimum=1),
        "logSteps": _number(h["logSteps"], "hyper.logSteps", integer=True, minimum=1),
        "dpoBeta": _number(h["dpoBeta"], "hyper.dpoBeta", exclusive_min=0),
    }
    tm = h["targetModules"]
    if not (tm == "all-linear" or (isinstance(tm, list) and tm and all(isinstance(x, str) and x for x in tm))):
        raise SpecError(f"hyper.targetModules must be \"all-linear\" or a list of module names (got {json.dumps(tm)})")
    hyper["targetModules"] = tm
    if h["quantization"] not in ("none", "4bit"):
        raise SpecError(f"hyper.quantization must be \"none\" or \"4bit\" (got {json.dumps(h['quantization'])})")
    hyper["quantization"] = h["quantization"]
    for key in ("bf16", "gradientCheckpointing"):
        if not isinstance(h[key], bool):
            raise SpecError(f"hyper.{key} must be true or false (got {json.dumps(h[key])})")
        hyper[key] = h[key]
    resume = spec.get("resume", False)
    if not isinstance(resume, bool):
        raise SpecError(f"resume must be true or false (got {json.dumps(resume)})")
    outputs = spec.get("outputs", {}) or {}
    if not isinstance(outputs, dict):
        raise SpecError("outputs must be an object: {\"ggufLora\": true, \"merged\": false}")
    for key in ("ggufLora", "merged"):
        if key in outputs and not isinstance(outputs[key], bool):
            raise SpecError(f"outputs.{key} must be true or false (got {json.dumps(outputs[key])})")
    return TrainSpec(
        run_id=run_id,
        work_dir=work_dir,
        base=base,
        sft_train=sft_train,
        sft_eval=sft_eval,
        dpo_train=dpo_train,
        hyper=hyper,
        resume=resume,
        gguf_lora=outputs.get("ggufLora", True),
        merged=outputs.get("merged", False),
        threads=_threads(spec),
    )


def parse_eval(spec: dict, command: str) -> EvalSpec:
    base = _base(spec)
    adapters = spec.get("adapters") or {}
    if not isinstance(adapters, dict):
        raise SpecError("adapters must be an object: {\"candidate\": \"/abs/adapter\", \"production\": null}")
    roles = {}
    for role, folder in adapters.items():
        if role not in ("candidate", "production"):
            raise SpecError(f"adapters.{role}: the roles are candidate and production")
        if folder is None:
            continue
        if not isinstance(folder, str) or not os.path.isfile(os.path.join(folder, "adapter_config.json")):
            raise SpecError(f"adapters.{role}: {json.dumps(folder)} is not a PEFT adapter folder (no adapter_config.json)")
        roles[role] = folder
    max_seq = _number(spec.get("maxSeqLength", 512), "maxSeqLength", integer=True, minimum=8)
    result = EvalSpec(base=base, adapters=roles, max_seq_length=max_seq, threads=_threads(spec))
    if command == "perplexity":
        result.texts = _file(spec, "texts", "")
    else:
        result.prompts = _file(spec, "prompts", "")
        result.max_new_tokens = _number(spec.get("maxNewTokens", 128), "maxNewTokens", integer=True, minimum=1)
    return result


def read_jsonl(path: str, what: str) -> list:
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise SpecError(f"{what} {path}: line {n} is not JSON")
    if not rows:
        raise SpecError(f"{what} {path}: the file has no records")
    return rows
