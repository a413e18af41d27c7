"""The GGUF LoRA converter's pure parts: names, the rotary permutation, alpha, and the file it writes.
Run: PYTHONPATH=src python -m unittest discover -s tests (from services/trainer/python)."""

import os
import tempfile
import unittest

import numpy as np

from llmtwin_train import gguf_lora


class TensorNames(unittest.TestCase):
    def test_every_projection_maps_to_its_llama_cpp_name(self):
        cases = {
            "self_attn.q_proj": "attn_q",
            "self_attn.k_proj": "attn_k",
            "self_attn.v_proj": "attn_v",
            "self_attn.o_proj": "attn_output",
            "mlp.gate_proj": "ffn_gate",
            "mlp.up_proj": "ffn_up",
            "mlp.down_proj": "ffn_down",
        }
        for hf, ours in cases.items():
            key = f"base_model.model.model.layers.17.{hf}.lora_A.weight"
            self.assertEqual(gguf_lora.tensor_name(key), (f"blk.17.{ours}.weight", "lora_a"))
            key = f"base_model.model.model.layers.0.{hf}.lora_B.weight"
            self.assertEqual(gguf_lora.tensor_name(key), (f"blk.0.{ours}.weight", "lora_b"))

    def test_names_with_an_adapter_name_or_without_the_peft_prefix(self):
        self.assertEqual(
            gguf_lora.tensor_name("model.layers.3.self_attn.q_proj.lora_B.default.weight"),
            ("blk.3.attn_q.weight", "lora_b"),
        )

    def test_modules_llama_cpp_cannot_adapt_are_refused_by_name(self):
        for key in ("base_model.model.lm_head.lora_A.weight", "base_model.model.model.embed_tokens.lora_embedding_A"):
            with self.assertRaisesRegex(gguf_lora.ConversionError, "not on a llama-style"):
                gguf_lora.tensor_name(key)


class RotaryPermutation(unittest.TestCase):
    def test_rows_of_each_head_are_interleaved_first_half_with_second_half(self):
        # Two heads of dimension 4: HF keeps each head's rotary pairs as (0,1 | 2,3), llama.cpp as (0,2,1,3).
        w = np.arange(8, dtype=np.float32).reshape(8, 1)
        self.assertEqual(gguf_lora.permute_rows(w, 2)[:, 0].tolist(), [0, 2, 1, 3, 4, 6, 5, 7])

    def test_permuting_lora_b_permutes_the_weight_update(self):
        rng = np.random.default_rng(0)
        b, a = rng.standard_normal((24, 4)), rng.standard_normal((4, 10))
        np.testing.assert_allclose(gguf_lora.permute_rows(b, 3) @ a, gguf_lora.permute_rows(b @ a, 3))

    def test_q_uses_the_query_heads_k_the_key_value_heads_and_the_rest_stay(self):
        rng = np.random.default_rng(1)
        prefix = "base_model.model.model.layers.0."
        tensors = {
            prefix + "self_attn.q_proj.lora_A.weight": rng.standard_normal((2, 12)),
            prefix + "self_attn.q_proj.lora_B.weight": rng.standard_normal((12, 2)),
            prefix + "self_attn.k_proj.lora_A.weight": rng.standard_normal((2, 12)),
            prefix + "self_attn.k_proj.lora_B.weight": rng.standard_normal((4, 2)),
            prefix + "self_attn.v_proj.lora_A.weight": rng.standard_normal((2, 12)),
            prefix + "self_attn.v_proj.lora_B.weight": rng.standard_normal((4, 2)),
        }
        out = gguf_lora.convert_tensors(tensors, "llama", n_head=3, n_kv_head=1)
        np.testing.assert_allclose(
            out["blk.0.attn_q.weight.lora_b"], gguf_lora.permute_rows(tensors[prefix + "self_attn.q_proj.lora_B.weight"], 3)
        )
        np.testing.assert_allclose(
            out["blk.0.attn_k.weight.lora_b"], gguf_lora.permute_rows(tensors[prefix + "self_attn.k_proj.lora_B.weight"], 1)
        )
        self.assertFalse(np.allclose(out["blk.0.attn_q.weight.lora_b"], tensors[prefix + "self_attn.q_proj.lora_B.weight"]))
        np.testing.assert_allclose(out["blk.0.attn_v.weight.lora_b"], tensors[prefix + "self_attn.v_proj.lora_B.weight"])
        np.testing.assert_allclose(out["blk.0.attn_q.weight.lora_a"], tensors[prefix + "self_attn.q_proj.lora_A.weight"])
        self.assertEqual(out["blk.0.attn_q.weight.lora_a"].dtype, np.float32)
        # Not a llama: no permutation at all.
        plain = gguf_lora.convert_tensors(tensors, "qwen2", n_head=3, n_kv_head=1)
        np.testing.assert_allclose(plain["blk.0.attn_q.weight.lora_b"], tensors[prefix + "self_attn.q_proj.lora_B.weight"])

    def test_a_half_pair_is_refused(self):
        with self.assertRaisesRegex(gguf_lora.ConversionError, "only one of"):
            gguf_lora.convert_tensors({"model.layers.0.mlp.up_proj.lora_A.weight": np.zeros((2, 3))}, "llama", 1, 1)


class Alpha(unittest.TestCase):
    def test_plain_lora_keeps_alpha_and_rslora_scales_it_so_alpha_over_rank_matches(self):
        self.assertEqual(gguf_lora.effective_alpha({"r": 16, "lora_alpha": 32}), 32.0)
        alpha = gguf_lora.effective_alpha({"r": 16, "lora_alpha": 32, "use_rslora": True})
        self.assertAlmostEqual(alpha / 16, 32 / 4)

    def test_dora_is_refused(self):
        with self.assertRaisesRegex(gguf_lora.ConversionError, "DoRA"):
            gguf_lora.effective_alpha({"r": 8, "lora_alpha": 16, "use_dora": True})


class File(unittest.TestCase):
    def test_the_file_has_the_adapter_keys_and_tensors_in_peft_order(self):
        import gguf

        rng = np.random.default_rng(2)
        tensors = {
            "blk.1.ffn_up.weight.lora_a": rng.standard_normal((4, 16)).astype(np.float32),
            "blk.1.ffn_up.weight.lora_b": rng.standard_normal((32, 4)).astype(np.float32),
        }
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "a.gguf")
            gguf_lora.write(path, "llama", 16.0, tensors)
            reader = gguf.GGUFReader(path)

            def text(key):
                field = reader.fields[key]
                return bytes(field.parts[field.data[0]]).decode()

            self.assertEqual(text("general.architecture"), "llama")
            self.assertEqual(text("general.type"), "adapter")
            self.assertEqual(text("adapter.type"), "lora")
            alpha = reader.fields["adapter.lora.alpha"]
            self.assertEqual(float(alpha.parts[alpha.data[0]][0]), 16.0)
            got = {t.name: t for t in reader.tensors}
            self.assertEqual(sorted(got), sorted(tensors))
            # GGUF lists dimensions innermost first: lora_a [r, in] reads as ne [in, r].
            self.assertEqual(list(got["blk.1.ffn_up.weight.lora_a"].shape), [16, 4])
            self.assertEqual(list(got["blk.1.ffn_up.weight.lora_b"].shape), [4, 32])
            np.testing.assert_array_equal(
                np.asarray(got["blk.1.ffn_up.weight.lora_b"].data).reshape(32, 4), tensors["blk.1.ffn_up.weight.lora_b"]
            )
            self.assertFalse(os.path.exists(path + ".partial"))


if __name__ == "__main__":
    unittest.main()
