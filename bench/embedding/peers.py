"""The Python peers of bench/embedding.ts, run in the venv that bench/embedding.ts builds from requirements.lock.

One process, driven over stdin/stdout with one JSON object per line, so that every peer is warm and the
Node side can interleave its own passes with these in the same run:
  -> {"op": "setup", "chunks": [...], "model": <onnx file>, "tokenizer": <tokenizer.json>,
      "fastembed_dir": <folder or null>, "threads": T, "batch": B}
  <- {"ok": true, "peers": ["raw", "fastembed"], "skipped": {"fastembed": "why"}}
  -> {"op": "run", "peer": "raw", "vectors": <path or null>}
  <- {"ok": true, "seconds": s, "cpu_seconds": c}   (CPU time of all the process's threads; vectors, when asked, written as float32 row-major to the path)

raw: onnxruntime called directly, the way its own examples do it: the Rust tokenizer encodes a batch,
padded to the batch's longest row, one InferenceSession.run per batch, mean pooling over the mask and L2
normalisation in numpy. Same ONNX file, intra-op threads and batch size as our embedder; inter-op 1.
raw-sorted: the same, with the batches cut from the chunks sorted by token count (the sorting included in
its time), as our embedder cuts them: the runtime's own speed on the very batches ours runs.
fastembed: Qdrant's fastembed TextEmbedding for sentence-transformers/all-MiniLM-L6-v2, pointed at the same
ONNX file (specific_model_path, local files only), same threads and batch size.
"""

import json
import sys
import time


def main() -> None:
    state = {}
    for line in sys.stdin:
        msg = json.loads(line)
        try:
            reply = handle(msg, state)
        except Exception as exc:  # reported to the Node side, which decides what to do
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def handle(msg, state):
    if msg["op"] == "setup":
        return setup(msg, state)
    if msg["op"] == "run":
        fn = state["peers"][msg["peer"]]
        started = time.perf_counter()
        cpu = time.process_time()
        vectors = fn()
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu
        if msg.get("vectors"):
            import numpy as np

            np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)).tofile(msg["vectors"])
        return {"ok": True, "seconds": seconds, "cpu_seconds": cpu_seconds}
    raise ValueError(f"unknown op {msg['op']}")


def setup(msg, state):
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    chunks = msg["chunks"]
    threads = msg["threads"]
    batch = msg["batch"]

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(msg["model"], opts, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    tokenizer = Tokenizer.from_file(msg["tokenizer"])
    tokenizer.enable_truncation(max_length=msg.get("max_tokens", 256))
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def raw(texts=chunks):
        out = []
        for i in range(0, len(texts), batch):
            enc = tokenizer.encode_batch(texts[i : i + batch])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in names:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = session.run(None, feed)[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
            out.append(pooled)
        return np.concatenate(out)

    def raw_sorted():
        # The same calls on batches cut from the chunks sorted by token count, as our embedder cuts them.
        lengths = [len(e.ids) for e in tokenizer.encode_batch(chunks)]
        order = sorted(range(len(chunks)), key=lambda k: lengths[k])
        vectors = raw([chunks[k] for k in order])
        out = np.empty_like(vectors)
        out[order] = vectors
        return out

    peers = {"raw": raw, "raw-sorted": raw_sorted}
    skipped = {}
    if msg.get("fastembed_dir"):
        try:
            from fastembed import TextEmbedding

            model = TextEmbedding(
                "sentence-transformers/all-MiniLM-L6-v2",
                specific_model_path=msg["fastembed_dir"],
                local_files_only=True,
                threads=threads,
            )

            def fastembed():
                return np.stack(list(model.embed(chunks, batch_size=batch)))

            peers["fastembed"] = fastembed
        except Exception as exc:
            skipped["fastembed"] = f"{type(exc).__name__}: {exc}"
    state["peers"] = peers
    return {
        "ok": True,
        "peers": list(peers),
        "skipped": skipped,
        "onnxruntime": ort.__version__,
    }


if __name__ == "__main__":
    main()
