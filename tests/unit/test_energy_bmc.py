"""Node power from the BMC: ipmitool and Redfish outputs parsed; both meters against stand-ins
on this host (a fake `ipmitool` executable, a Redfish server on 127.0.0.1)."""

from __future__ import annotations

import base64
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.energy.ipmi import (
    IpmiMeter,
    IpmiParseError,
    ipmitool_command,
    parse_dcmi_power_reading,
)
from bench.energy.meter import ChannelBuffer
from bench.energy.redfish import RedfishError, RedfishMeter, parse_redfish_power

FIXTURES = Path(__file__).parent.parent / "fixtures" / "energy"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def fixture_json(name: str) -> dict:
    return json.loads(fixture_text(name))


# --- ipmitool ------------------------------------------------------------------------


def test_parse_classic_dcmi_reading() -> None:
    r = parse_dcmi_power_reading(fixture_text("ipmitool_dcmi_classic.txt"))
    assert (r.instantaneous_w, r.minimum_w, r.maximum_w, r.average_w) == (412, 88, 731, 405)
    assert r.sampling_period_s == 1.0 and r.active is True


def test_parse_reading_with_timestamp_and_period_on_one_line() -> None:
    r = parse_dcmi_power_reading(fixture_text("ipmitool_dcmi_oneline_timestamp.txt"))
    assert r.instantaneous_w == 1836 and r.average_w == 1790
    assert r.sampling_period_s == 5.0 and r.active is True


def test_parse_deactivated_state_keeps_the_reading() -> None:
    r = parse_dcmi_power_reading(fixture_text("ipmitool_dcmi_deactivated.txt"))
    assert r.instantaneous_w == 235 and r.active is False


def test_parse_rejects_zero_watts_and_errors() -> None:
    with pytest.raises(IpmiParseError, match="0 W"):
        parse_dcmi_power_reading(fixture_text("ipmitool_dcmi_zero.txt"))
    with pytest.raises(IpmiParseError, match="DCMI request failed because"):
        parse_dcmi_power_reading(fixture_text("ipmitool_dcmi_unsupported_stderr.txt"))


def test_ipmitool_command_is_an_argument_list_without_the_password() -> None:
    assert ipmitool_command("ipmitool", {}) == ["ipmitool", "dcmi", "power", "reading"]
    env = {
        "TOKENBENCH_IPMI_HOST": "10.0.0.5",
        "TOKENBENCH_IPMI_USER": "root",
        "IPMI_PASSWORD": "s3cret",
    }
    cmd = ipmitool_command("ipmitool", env)
    assert cmd == [
        "ipmitool",
        "-I",
        "lanplus",
        "-H",
        "10.0.0.5",
        "-U",
        "root",
        "-E",
        "dcmi",
        "power",
        "reading",
    ]
    assert "s3cret" not in " ".join(cmd)


def fake_ipmitool(tmp_path: Path, stdout_fixture: str, exit_code: int = 0) -> Path:
    """An executable named ipmitool that records its argv and prints a captured output."""
    script = tmp_path / "ipmitool"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys, pathlib\n"
        f"pathlib.Path({str(tmp_path / 'argv.json')!r}).write_text(json.dumps(sys.argv[1:]))\n"
        f"text = pathlib.Path({str(FIXTURES / stdout_fixture)!r}).read_text()\n"
        f"(sys.stdout if {exit_code} == 0 else sys.stderr).write(text)\n"
        f"sys.exit({exit_code})\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def test_ipmi_meter_runs_ipmitool_and_samples_instantaneous_power(tmp_path: Path) -> None:
    tool = fake_ipmitool(tmp_path, "ipmitool_dcmi_deactivated.txt")
    meter = IpmiMeter(ipmitool=str(tool), env={}, timeout_s=20)
    assert json.loads((tmp_path / "argv.json").read_text()) == ["dcmi", "power", "reading"]
    assert "deactivated" in meter.channel_info()[0][2]["notes"][0]
    meter.buffers = [ChannelBuffer(c, d, **i) for c, d, i in meter.channel_info()]
    meter.read()
    trace = meter.buffers[0].trace("ipmi", 1.0)
    assert (trace.channel, trace.domain, trace.power_w) == ("node", "node", [235.0])


def test_ipmi_meter_that_cannot_read_says_why(tmp_path: Path) -> None:
    tool = fake_ipmitool(tmp_path, "ipmitool_dcmi_unsupported_stderr.txt", exit_code=1)
    with pytest.raises(IpmiParseError, match="exited 1: DCMI request failed"):
        IpmiMeter(ipmitool=str(tool), env={}, timeout_s=20)
    with pytest.raises(IpmiParseError, match="not installed"):
        IpmiMeter(ipmitool=str(tmp_path / "no-such-ipmitool"), env={})


# --- Redfish -------------------------------------------------------------------------


def test_parse_legacy_power_control() -> None:
    p = parse_redfish_power(fixture_json("redfish_power_legacy.json"))
    assert (
        p.power_w == 344.0
        and p.source == "Power PowerControl 'Server Power Control' PowerConsumedWatts"
    )


def test_parse_picks_the_chassis_entry_over_subsystems() -> None:
    p = parse_redfish_power(fixture_json("redfish_power_subsystems.json"))
    assert p.power_w == 1427.0  # not the CPU (231 W) or memory (58 W) sub-system entries


def test_parse_environment_metrics() -> None:
    p = parse_redfish_power(fixture_json("redfish_environment_metrics.json"))
    assert p.power_w == 374.5 and p.source == "EnvironmentMetrics PowerWatts"


def test_parse_null_power_and_wrong_resource_are_errors() -> None:
    with pytest.raises(RedfishError, match="is None, not a number"):
        parse_redfish_power(fixture_json("redfish_power_null.json"))
    with pytest.raises(RedfishError, match="neither a Power"):
        parse_redfish_power(fixture_json("redfish_chassis.json"))
    only_cpu = {"PowerControl": [{"PhysicalContext": "CPU", "PowerConsumedWatts": 120}]}
    with pytest.raises(RedfishError, match="no whole-node PowerControl entry"):
        parse_redfish_power(only_cpu)


ROUTES = {
    "/redfish/v1/Chassis": "redfish_chassis_collection.json",
    "/redfish/v1/Chassis/1U": "redfish_chassis.json",
    "/redfish/v1/Chassis/1U/EnvironmentMetrics": "redfish_environment_metrics.json",
    "/redfish/v1/Chassis/1U/Power": "redfish_power_legacy.json",
}
AUTH = "Basic " + base64.b64encode(b"bench:pa55").decode()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.headers.get("Authorization") != AUTH:
            self.send_response(401)
            self.end_headers()
            return
        name = ROUTES.get(self.path)
        if name is None:
            self.send_response(404)
            self.end_headers()
            return
        body = fixture_text(name).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def bmc() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def env_for(url: str, password: str = "pa55") -> dict[str, str]:
    return {
        "TOKENBENCH_REDFISH_URL": url,
        "TOKENBENCH_REDFISH_USER": "bench",
        "TOKENBENCH_REDFISH_PASSWORD": password,
    }


def test_redfish_meter_follows_chassis_to_environment_metrics(bmc: str) -> None:
    meter = RedfishMeter(env_for(f"{bmc}/redfish/v1/Chassis/1U"))
    assert meter.url == f"{bmc}/redfish/v1/Chassis/1U/EnvironmentMetrics"
    info = meter.channel_info()[0][2]
    assert "pa55" not in info["power_source"] and "bench" not in info["power_source"]
    meter.buffers = [ChannelBuffer(c, d, **i) for c, d, i in meter.channel_info()]
    meter.read()
    assert meter.buffers[0].power_w == [374.5]


def test_redfish_meter_on_a_power_resource(bmc: str) -> None:
    meter = RedfishMeter(env_for(f"{bmc}/redfish/v1/Chassis/1U/Power"))
    meter.buffers = [ChannelBuffer(c, d, **i) for c, d, i in meter.channel_info()]
    meter.read()
    assert meter.buffers[0].power_w == [344.0]


def test_redfish_errors_say_what_to_fix(bmc: str) -> None:
    with pytest.raises(RedfishError, match="HTTP 401"):
        RedfishMeter(env_for(f"{bmc}/redfish/v1/Chassis/1U", password="wrong"))
    with pytest.raises(
        RedfishError,
        match=r"collection or service root, not a chassis \(members: /redfish/v1/Chassis/1U, ",
    ):
        RedfishMeter(env_for(f"{bmc}/redfish/v1/Chassis"))
    with pytest.raises(RedfishError, match="TOKENBENCH_REDFISH_URL is not set"):
        RedfishMeter({})
