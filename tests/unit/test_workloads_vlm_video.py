"""The native-video tiny VLM (Ovis2.5-style) builds deterministically with vLLM's token ids."""

from __future__ import annotations

import json

import pytest

from bench.models.vlm_video import TOKEN_IDS, VOCAB_SIZE, TinyVideoVlmSpec, build_tiny_video_vlm

# Trains the tiny tokenizer twice (seconds idle, much more on a busy machine).
pytestmark = pytest.mark.slow

SMALL = TinyVideoVlmSpec(vocab_size=600)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("ovis")
    return build_tiny_video_vlm(root / "a", SMALL), build_tiny_video_vlm(root / "b", SMALL)


def test_same_spec_gives_identical_files_and_no_weights(built):
    a, b = built
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert not any(name.endswith(".safetensors") for name in names)  # --load-format dummy


def test_special_tokens_sit_where_vllm_expects_them(built):
    from transformers import AutoTokenizer

    a, _ = built
    tok = AutoTokenizer.from_pretrained(str(a), trust_remote_code=True)
    assert len(tok) == VOCAB_SIZE
    for token_id, content in TOKEN_IDS.items():
        assert tok.convert_tokens_to_ids(content) == token_id
    assert 151666 in tok.encode("a <video> b", add_special_tokens=False)
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "video_url", "video_url": {"url": "data:"}},
                {"type": "text", "text": "Q?"},
            ],
        }
    ]
    rendered = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered == "<|user|>\n<video>Q?</s>\n<|assistant|>\n"


def test_config_is_ovis2_5_with_head_size_64(built):
    from transformers import AutoConfig

    a, _ = built
    raw = json.loads((a / "config.json").read_text())
    assert raw["architectures"] == ["Ovis2_5"]
    config = AutoConfig.from_pretrained(str(a), trust_remote_code=True)
    assert config.text_config.vocab_size == VOCAB_SIZE
    assert config.text_config.head_dim == 64
    assert config.vit_config.hidden_size // config.vit_config.num_attention_heads == 64
    pre = json.loads((a / "preprocessor_config.json").read_text())
    assert pre["image_processor_type"] == "SiglipImageProcessorPil"
