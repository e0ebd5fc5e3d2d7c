"""Build the embedded `tiny-llama` model: random weights, a locally trained tokenizer.

The same seed gives byte-identical files: the tokenizer is a byte-level BPE trained on the
corpus shipped in the package (`bench/data/tiny_corpus.txt`), and the weights come from a
seeded `torch.Generator`. Head size is 64 because vLLM's CPU attention rejects 16.
torch and transformers are imported inside the functions (`import bench` stays light).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['content'] is string %}{% set text = message['content'] %}"
    "{% else %}{% set text = message['content'] | map(attribute='text') | select | join(' ') %}"
    "{% endif %}"
    "<|{{ message['role'] }}|>\n{{ text }}</s>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>"]


class TinyLlamaSpec(BaseModel):
    """Shape of the embedded model. hidden_size / num_attention_heads = head size (64)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vocab_size: int = 4096
    hidden_size: int = 128
    intermediate_size: int = 384
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    num_key_value_heads: int = 2
    max_position_embeddings: int = 16384
    seed: int = 0


def default_cache_dir() -> Path:
    """Where built models live: $TOKENBENCH_CACHE or ~/.cache/tokenbench."""
    root = os.environ.get("TOKENBENCH_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "tokenbench"


def corpus_text() -> str:
    return resources.files("bench.data").joinpath("tiny_corpus.txt").read_text(encoding="utf-8")


def train_tokenizer(vocab_size: int, out_dir: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    lines = corpus_text().splitlines()
    tokenizer.train_from_iterator(lines, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        model_max_length=1_000_000,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(str(out_dir))


def _write_weights(spec: TinyLlamaSpec, vocab_size: int, out_dir: Path) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        head_dim=spec.hidden_size // spec.num_attention_heads,
        max_position_embeddings=spec.max_position_embeddings,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
        tie_word_embeddings=False,
        dtype="float32",
    )
    torch.manual_seed(spec.seed)
    with torch.device("cpu"):
        model = LlamaForCausalLM(config)
    generator = torch.Generator().manual_seed(spec.seed)
    with torch.no_grad():
        # Re-draw every tensor from one seeded generator, in name order, so the weights do not
        # depend on transformers' init order; std 0.02 as Llama's initializer_range.
        for _, param in sorted(model.named_parameters()):
            if param.dim() == 1:
                param.fill_(1.0)
            else:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.02)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    gen = out_dir / "generation_config.json"
    if gen.exists():
        gen.unlink()  # carries a transformers version string; vLLM does not need it


def build_atomically(
    out_dir: Path,
    builder: str,
    spec: BaseModel,
    write: Callable[[Path], None],
    *,
    force: bool = False,
    extra: dict[str, str] | None = None,
) -> Path:
    """Run `write(tmp)` in a fresh folder beside `out_dir`, then move it into place.

    Skips the build when `out_dir` already holds a complete build of the same spec, unless
    `force`. Writes `tokenbench_build.json` with the builder, the spec, a SHA-256 of every
    file and `extra`. A failed build leaves no partial folder behind.
    """
    marker = out_dir / "tokenbench_build.json"
    if marker.exists() and not force:
        built = json.loads(marker.read_text())
        if built.get("spec") == spec.model_dump():
            return out_dir
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=out_dir.parent))
    try:
        write(tmp)
        files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        record = {"builder": builder, "spec": spec.model_dump(), "files": files, **(extra or {})}
        (tmp / "tokenbench_build.json").write_text(json.dumps(record, indent=2, sort_keys=True))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def build_tiny_llama(out_dir: Path, spec: TinyLlamaSpec | None = None, force: bool = False) -> Path:
    """Build the model into `out_dir` (atomically, see `build_atomically`) and return it."""
    spec = spec or TinyLlamaSpec()

    def write(tmp: Path) -> None:
        from transformers import AutoTokenizer

        train_tokenizer(spec.vocab_size, tmp)
        vocab_size = len(AutoTokenizer.from_pretrained(str(tmp)))
        _write_weights(spec, vocab_size, tmp)

    return build_atomically(out_dir, "tiny-llama", spec, write, force=force)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_dir_sha256(model_dir: Path) -> str:
    """One hash over every file of a model directory (names and contents, in name order)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(model_dir)).encode())
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()
