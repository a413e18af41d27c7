"""python -m llmtwin_train train|perplexity|generate --spec <spec.json> (protocol: docs/training.md).

Exit codes: 0 done, 1 error (after an `error` event), 143 stopped by SIGTERM (after a checkpoint when it
came during training).
"""

import argparse
import os
import signal
import sys
import traceback

from . import events


class Terminated(BaseException):
    """SIGTERM outside the training loop: nothing to checkpoint, stop at once."""


def main(argv=None) -> int:
    events.claim_stdout()
    parser = argparse.ArgumentParser(prog="python -m llmtwin_train")
    parser.add_argument("command", choices=["train", "perplexity", "generate"])
    parser.add_argument("--spec", required=True, help="the spec JSON file")
    args = parser.parse_args(argv)

    # Defaults; the caller's environment still wins. TOKENIZERS_PARALLELISM=false matters for speed, not only
    # for quiet: with HF tokenizers' thread pool on, LoRA steps on 2 cores ran about 7x slower (bench/training.ts:
    # 10-17 tokens/s against 143 for SmolLM2-135M, 3 steps of 2x128 tokens).
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

    from .spec import SpecError, load, parse_eval, parse_train
    from .train import Stop

    stop = Stop()

    def on_term(signum, frame):
        if stop.training:
            print("llmtwin_train: SIGTERM, saving a checkpoint at the end of this step", file=sys.stderr)
            stop.requested = True
        else:
            raise Terminated()

    signal.signal(signal.SIGTERM, on_term)
    try:
        raw = load(args.spec)
        if args.command == "train":
            spec = parse_train(raw)
            from .train import run

            return run(spec, stop)
        spec = parse_eval(raw, args.command)
        from . import evaluate

        return evaluate.perplexity(spec) if args.command == "perplexity" else evaluate.generate(spec)
    except Terminated:
        print("llmtwin_train: SIGTERM outside training, exiting", file=sys.stderr)
        return 143
    except SpecError as e:
        events.emit("error", message=str(e))
        return 1
    except Exception as e:  # anything else: the caller gets the message, the traceback goes to stderr
        traceback.print_exc()
        events.emit("error", message=f"{type(e).__name__}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
