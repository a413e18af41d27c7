"""The job's only channel to its caller: one JSON object per line on the process's original stdout.

Libraries print freely (progress bars, warnings, even C code writing to fd 1), so at start the original
stdout is kept on a private descriptor and fd 1 is pointed at stderr: nothing but events can reach the
caller's stdout reader.
"""

import json
import math
import os
import sys
import threading

_out = None
_lock = threading.Lock()


def claim_stdout() -> None:
    global _out
    if _out is not None:
        return
    sys.stdout.flush()
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _out = os.fdopen(fd, "w", buffering=1, encoding="utf-8")


def _clean(value):
    # JSON has no NaN/Infinity; a diverged loss is reported as null rather than breaking the reader.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def emit(event: str, **fields) -> None:
    line = json.dumps(_clean({"event": event, **fields}), ensure_ascii=False)
    with _lock:
        target = _out if _out is not None else sys.stdout
        target.write(line + "\n")
        target.flush()
