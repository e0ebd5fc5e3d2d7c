"""`bench run --endpoint URL --tokenizer PATH`: prompts built with the served model's own
tokenizer, for a model whose files are not on this machine (through the real CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.synth.control import SynthServer

REPO = Path(__file__).resolve().parents[2]


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ}, timeout=180)  # fmt: skip


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bench.models.tiny import train_tokenizer

    out = tmp_path_factory.mktemp("tok")
    train_tokenizer(300, out)  # a small BPE: 24 tokens are a few words
    return out


def test_endpoint_prompts_are_built_with_the_named_tokenizer(tokenizer_dir, tmp_path):
    """llama-3.1-8b's files are not here (nothing is downloaded); with --tokenizer the run
    needs none of them. The synthetic server counts prompt words, so each request's
    server-side input count must equal the words of the prompt that tokenizer builds."""
    from transformers import AutoTokenizer

    from bench.config.run import ShapeWorkload
    from bench.loadgen.shape import shape_requests

    run = tmp_path / "run"
    with SynthServer(ttft_s=0.001, itl_s=0.001) as server:
        result = bench("run", "--endpoint", server.base_url, "--model", "llama-3.1-8b",
                       "--hardware", "h100-sxm", "--served-model", "synth",
                       "--tokenizer", str(tokenizer_dir), "-n", "4", "--warmup", "0",
                       "--concurrency", "2", "--input-tokens", "24", "--output-tokens", "4",
                       "--out", str(run))  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((run / "report.json").read_text())
    assert report["config"]["tokenizer"] == str(tokenizer_dir)
    records = [json.loads(line) for line in (run / "requests.jsonl").read_text().splitlines()]
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    specs = shape_requests(ShapeWorkload(input_tokens=24, output_tokens=4), tok, 4)
    words = {s.request_id: len(s.body["prompt"].split()) for s in specs}
    assert {r["request_id"]: r["input_tokens"] for r in records} == words
    assert all(r["text_input_tokens"] == 24 for r in records)  # token-exact in that tokenizer
    assert sorted(set(words.values())) != [24]  # a word is not a token here: the test can fail


def test_a_tokenizer_folder_without_tokenizer_files_stops_before_work(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = bench("run", "--endpoint", "http://127.0.0.1:9", "--tokenizer", str(empty),
                   "--out", str(tmp_path / "run"))  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "no tokenizer files found" in result.stderr and "--tokenizer" in result.stderr
    assert str(empty) in result.stderr and not (tmp_path / "run").exists()


def test_tokenizer_is_refused_for_a_managed_server(tokenizer_dir, tmp_path):
    result = bench("run", "--tokenizer", str(tokenizer_dir), "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--tokenizer is for --endpoint runs" in result.stderr
