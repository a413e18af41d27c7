"""LLM Twin's training job. The protocol (spec file in, JSON lines out) is in docs/training.md."""
