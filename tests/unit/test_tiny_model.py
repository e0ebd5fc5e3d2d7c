"""The embedded model builds deterministically: same seed, byte-identical files."""

import json

from bench.models.tiny import TinyLlamaSpec, build_tiny_llama

SMALL = TinyLlamaSpec(vocab_size=600, intermediate_size=128, max_position_embeddings=2048)


def test_same_seed_gives_identical_files(tmp_path):
    a = build_tiny_llama(tmp_path / "a", SMALL)
    b = build_tiny_llama(tmp_path / "b", SMALL)
    files_a = sorted(p.name for p in a.iterdir())
    assert files_a == sorted(p.name for p in b.iterdir())
    assert "model.safetensors" in files_a and "tokenizer.json" in files_a
    for name in files_a:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_other_seed_gives_other_weights_and_head_size_64(tmp_path):
    a = build_tiny_llama(tmp_path / "a", SMALL)
    c = build_tiny_llama(tmp_path / "c", SMALL.model_copy(update={"seed": 1}))
    assert (a / "model.safetensors").read_bytes() != (c / "model.safetensors").read_bytes()
    config = json.loads((a / "config.json").read_text())
    assert config["head_dim"] == 64
    assert config["hidden_size"] // config["num_attention_heads"] == 64
    assert config["architectures"] == ["LlamaForCausalLM"]


def test_rebuild_is_skipped_when_present(tmp_path):
    out = build_tiny_llama(tmp_path / "m", SMALL)
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    build_tiny_llama(tmp_path / "m", SMALL)
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
