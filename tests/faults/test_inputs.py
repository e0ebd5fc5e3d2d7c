"""Bad files and flags are refused with file, field and fix (exit 2), before any work;
readers never crash or hang on hostile content."""

from __future__ import annotations

import math
import time

import pytest
from conftest import endpoint_config

from bench.config.loading import MAX_NESTING, read_yaml
from bench.config.run import RunConfig
from bench.cost.assumptions import load_assumptions
from bench.errors import UserError
from bench.report.io import load_report


def test_yaml_that_is_not_utf8_is_refused_naming_the_byte(tmp_path):
    latin1 = tmp_path / "cost.yaml"
    latin1.write_bytes("currency: USD\nnote: caf\xe9\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"not UTF-8 text: byte 0xe9 at line 2") as err:
        read_yaml(latin1)
    assert err.value.fix == "save the file as UTF-8"
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    with pytest.raises(UserError, match="not UTF-8 text: byte 0x89 at line 1"):
        read_yaml(binary)


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    """Nine levels of nine aliases each: 387 million values once expanded (it took
    gigabytes and minutes); refused by counting, without expanding, in well under 1 s."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for k in range(1, 10):
        lines.append(f"a{k}: &a{k} [" + ",".join([f"*a{k - 1}"] * 9) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    start = time.perf_counter()
    with pytest.raises(UserError, match=r"more than 1,000,000 values .*alias bomb"):
        read_yaml(bomb)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("levels", [MAX_NESTING + 5, 5000])
def test_deeply_nested_yaml_and_json_are_refused(tmp_path, levels):
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * levels + "]" * levels)
    with pytest.raises(UserError, match="nested more than 100 levels deep"):
        read_yaml(deep)
    run = tmp_path / "run"
    run.mkdir()
    (run / "report.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(UserError, match="nested too deeply|not a tokenbench report"):
        load_report(run)


def test_a_self_referencing_alias_is_refused(tmp_path):
    loop = tmp_path / "loop.yaml"
    loop.write_text("a: &x [1, *x]\n")
    with pytest.raises(UserError, match="an alias refers to a value that contains it"):
        read_yaml(loop)


@pytest.mark.parametrize("price", [".inf", ".nan", "-.inf"])
def test_non_finite_prices_are_refused(tmp_path, price):
    cost = tmp_path / "cost.yaml"
    cost.write_text(f"rent_price_per_gpu_hour: {price}\n")
    with pytest.raises(UserError) as err:
        load_assumptions(cost)
    assert "finite" in err.value.message and err.value.field == "rent_price_per_gpu_hour"


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"duration_s": math.inf}, "duration_s", "finite"),
        ({"slo": {"ttft_s": math.nan}}, "slo.ttft_s", "finite"),
        ({"workload": {"input_tokens": 10**9, "output_tokens": 6}}, "input_tokens",
         "less than or equal to 10485760"),
        ({"workload": {"input_tokens": 8, "output_tokens": 6, "seed": -1}}, "seed",
         "greater than or equal to 0"),
        ({"engine": {"kind": "endpoint", "url": "not a url"}}, "engine.endpoint.url",
         "not an http(s) URL"),
        ({"engine": {"kind": "endpoint", "url": "http://127.0.0.1:99999"}}, "url",
         "not an http(s) URL"),
        ({"load": {"kind": "rate", "rate_per_s": math.inf}}, "rate_per_s", "finite"),
    ],
)  # fmt: skip
def test_absurd_and_non_finite_run_values_are_refused_with_the_bound(tmp_path, change, field,
                                                                     says):  # fmt: skip
    from bench.config.loading import validate_data

    class Fake:
        base_url = "http://127.0.0.1:1"

    data = endpoint_config(Fake(), tmp_path / "run").model_dump(mode="json")
    data.update(change)
    with pytest.raises(UserError) as err:
        validate_data(RunConfig, data, "command line")
    assert field in err.value.field and says in err.value.message, err.value.render()
