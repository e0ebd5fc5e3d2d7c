"""The embedded tiny VLM builds deterministically, with head size 64 and Idefics3's tokens."""

from __future__ import annotations

import json

import pytest

from bench.models.vlm import GRID_TOKENS, IMAGE_TOKENS, TinyVlmSpec, build_tiny_vlm

# Building trains a tokenizer and writes a model twice: seconds on an idle machine, much
# more on a busy one, so the module is marked slow.
pytestmark = pytest.mark.slow

SMALL = TinyVlmSpec(
    vocab_size=600,
    intermediate_size=128,
    vision_intermediate_size=128,
    max_position_embeddings=2048,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("vlm")
    return build_tiny_vlm(root / "a", SMALL), build_tiny_vlm(root / "b", SMALL)


def test_same_spec_gives_identical_files(built):
    a, b = built
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert {
        "model.safetensors",
        "tokenizer.json",
        "preprocessor_config.json",
        "processor_config.json",
        "config.json",
    } <= set(names)
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_config_head_size_64_and_pil_processor(built):
    a, _ = built
    config = json.loads((a / "config.json").read_text())
    assert config["architectures"] == ["Idefics3ForConditionalGeneration"]
    text, vision = config["text_config"], config["vision_config"]
    assert text["hidden_size"] // text["num_attention_heads"] == 64 == text["head_dim"]
    assert vision["hidden_size"] // vision["num_attention_heads"] == 64
    pre = json.loads((a / "preprocessor_config.json").read_text())
    assert pre["image_processor_type"] == "Idefics3ImageProcessorPil"  # no torchvision
    assert pre["max_image_size"] == {"longest_edge": 128}
    # (128 px / 16 px)^2 patches / scale 2^2 = 16 tokens per tile
    assert json.loads((a / "processor_config.json").read_text())["image_seq_len"] == 16
    assert SMALL.image_seq_len() == 16


def test_tokenizer_has_image_tokens_and_template_places_them(built):
    from transformers import AutoTokenizer

    a, _ = built
    tok = AutoTokenizer.from_pretrained(str(a))
    ids = tok.convert_tokens_to_ids(IMAGE_TOKENS + GRID_TOKENS)
    assert len(set(ids)) == 40 and min(ids) >= 600
    config = json.loads((a / "config.json").read_text())
    assert config["image_token_id"] == tok.convert_tokens_to_ids("<image>")
    assert config["text_config"]["vocab_size"] == len(tok)
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:"}},
                {"type": "text", "text": "Q?"},
                {"type": "image_url", "image_url": {"url": "data:"}},
            ],
        }
    ]
    rendered = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered == "<|user|>\n<image>Q?<image><end_of_utterance>\n<|assistant|>\n"
