"""Engines are found by `kind` through one table (`bench.engines.ENGINES`); `serve` opens the
plan's engine and says, as a `Served`, where requests go and what is known about it."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest

from bench.config.plan import plan_run
from bench.config.run import Engine, RunConfig
from bench.engines import ENGINES, serve
from bench.errors import UserError
from bench.synth.control import SynthServer


def _config(tmp_path: Path, engine: dict[str, Any]) -> RunConfig:
    return RunConfig.model_validate(
        {
            "model": "tiny-llama",
            "workload": {"kind": "shape", "input_tokens": 8, "output_tokens": 4},
            "load": {"kind": "concurrency", "concurrency": 1},
            "engine": engine,
            "num_requests": 1,
            "output_dir": str(tmp_path / "run"),
        }
    )


def test_every_engine_kind_has_one_implementation() -> None:
    union = typing.get_args(typing.get_args(Engine)[0])
    kinds = {typing.get_args(cls.model_fields["kind"].annotation)[0] for cls in union}
    assert set(ENGINES) == kinds == {"managed", "endpoint", "offline"}
    assert [cls.runs_here for cls in union] == [True, False, True]  # managed, endpoint, offline
    assert [cls.streams for cls in union] == [True, True, False]


def test_an_endpoint_is_checked_and_served_as_text_prompts(tmp_path: Path) -> None:
    with SynthServer(ttft_s=0.001, itl_s=0.001) as server:
        engine = {"kind": "endpoint", "url": server.base_url, "served_model": "synth"}
        plan = plan_run(_config(tmp_path, engine))
        said: list[str] = []
        with serve(plan, tmp_path / "unused.log", said.append) as served:
            assert (served.base_url, served.served_model) == (server.base_url, "synth")
            assert (served.token_ids, served.started, served.watchdog) == (False, False, None)
            assert served.model_path is not None and Path(served.model_path).is_dir()
            assert served.notes == ()
        assert said == [f"endpoint {server.base_url} answers"]
        assert not (tmp_path / "unused.log").exists()


def test_an_unreachable_endpoint_stops_before_the_run(tmp_path: Path) -> None:
    plan = plan_run(_config(tmp_path, {"kind": "endpoint", "url": "http://127.0.0.1:9"}))
    with pytest.raises(UserError, match="endpoint unreachable"), serve(plan, tmp_path / "l"):
        pytest.fail("served an unreachable endpoint")


def test_offline_has_the_model_files_and_nothing_to_send_to(tmp_path: Path) -> None:
    plan = plan_run(_config(tmp_path, {"kind": "offline"}))
    with serve(plan, tmp_path / "unused.log") as served:
        assert served.base_url is None and served.model_path is not None
        assert (served.served_model, served.started) == ("tiny-llama", False)


def test_a_sweep_refuses_the_offline_engine_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.sweep.session import open_server

    def no_engine(*args: Any) -> None:
        raise AssertionError("the engine was opened")

    monkeypatch.setattr("bench.engines.serve", no_engine)
    config = _config(tmp_path, {"kind": "offline"})
    plan = plan_run(config)
    with (
        pytest.raises(UserError, match="a sweep needs a server") as err,
        open_server(config, plan, tmp_path, print),
    ):
        pytest.fail("opened a server for an offline sweep")
    assert err.value.field == "engine.kind"
