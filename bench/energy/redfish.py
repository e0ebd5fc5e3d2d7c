"""Whole-node power from the BMC over Redfish.

Two resources carry it: the legacy `Power` resource (`PowerControl[].PowerConsumedWatts`)
and the newer `EnvironmentMetrics` (`PowerWatts.Reading`). `TOKENBENCH_REDFISH_URL` names
either resource or a Chassis (whose `EnvironmentMetrics` link is preferred, then `Power`).
Credentials come from TOKENBENCH_REDFISH_USER / TOKENBENCH_REDFISH_PASSWORD (HTTP basic
auth) and never reach a trace; TOKENBENCH_REDFISH_INSECURE=1 skips TLS verification for
BMCs with self-signed certificates (recorded in the trace's notes).
"""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bench.energy.meter import Clock, SamplingMeter

# PhysicalContext values that denote the whole node rather than one component of it.
_NODE_CONTEXTS = {None, "Chassis", "SystemBoard"}


@dataclass(frozen=True)
class RedfishPower:
    power_w: float
    source: str


class RedfishError(ValueError):
    """No usable power reading; the message says what the BMC gave instead."""


def parse_redfish_power(doc: Mapping[str, Any]) -> RedfishPower:
    """Node power from a `Power` or `EnvironmentMetrics` resource.

    Power: the PowerControl entry for the whole chassis (PhysicalContext "Chassis", else the
    first entry without a PhysicalContext; CPU or memory sub-system entries are not node power).

    Raises:
        RedfishError: neither shape, or the reading is null, missing or ≤ 0.
    """
    if "PowerWatts" in doc:
        reading = (doc.get("PowerWatts") or {}).get("Reading")
        return RedfishPower(
            _watts(reading, "EnvironmentMetrics PowerWatts.Reading"),
            "EnvironmentMetrics PowerWatts",
        )
    if "PowerControl" in doc:
        entries = [e for e in doc.get("PowerControl") or [] if isinstance(e, Mapping)]
        chassis = [e for e in entries if e.get("PhysicalContext") == "Chassis"]
        plain = [e for e in entries if e.get("PhysicalContext") in _NODE_CONTEXTS]
        candidates = chassis or plain
        if not candidates:
            contexts = sorted({str(e.get("PhysicalContext")) for e in entries})
            raise RedfishError(f"no whole-node PowerControl entry (only {contexts or 'none'})")
        chosen = candidates[0]
        name = chosen.get("Name") or chosen.get("MemberId") or "0"
        return RedfishPower(
            _watts(chosen.get("PowerConsumedWatts"), f"PowerControl {name!r}"),
            f"Power PowerControl {name!r} PowerConsumedWatts",
        )
    raise RedfishError(
        "neither a Power (PowerControl) nor an EnvironmentMetrics (PowerWatts) resource"
    )


def _watts(value: Any, what: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise RedfishError(f"{what} is {value!r}, not a number")
    if value <= 0:
        raise RedfishError(f"{what} is {value} W: no reading")
    return float(value)


def power_resource_link(doc: Mapping[str, Any]) -> str | None:
    """From a Chassis resource, the path of its EnvironmentMetrics (preferred) or Power resource."""
    for key in ("EnvironmentMetrics", "Power"):
        link = doc.get(key)
        if isinstance(link, Mapping) and isinstance(link.get("@odata.id"), str):
            return link["@odata.id"]
    return None


class RedfishClient:
    """GET JSON from one BMC with basic auth (credentials kept in memory only)."""

    def __init__(
        self, user: str | None, password: str | None, insecure: bool, timeout_s: float
    ) -> None:
        self.headers = {"Accept": "application/json"}
        if user is not None:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"
        self.context = ssl.create_default_context()
        if insecure:
            self.context.check_hostname = False
            self.context.verify_mode = ssl.CERT_NONE
        self.timeout_s = timeout_s
        # BMCs sit on management networks: never send their credentials through a proxy.
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=self.context)
        )

    def get(self, url: str) -> Mapping[str, Any]:
        """Raises RedfishError on HTTP, network or JSON errors."""
        request = urllib.request.Request(url, headers=self.headers)
        try:
            with self.opener.open(request, timeout=self.timeout_s) as resp:
                doc = json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise RedfishError(f"HTTP {exc.code} from {_public(url)}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise RedfishError(
                f"cannot reach {_public(url)}: {getattr(exc, 'reason', exc)}"
            ) from None
        except json.JSONDecodeError:
            raise RedfishError(f"{_public(url)} did not return JSON") from None
        if not isinstance(doc, Mapping):
            raise RedfishError(f"{_public(url)} returned JSON that is not an object")
        return doc


def _public(url: str) -> str:
    """The URL without any user:password@ part, safe for messages and traces."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def resolve_power_url(client: RedfishClient, url: str) -> str:
    """The URL of the resource to poll: `url` itself, or the power resource of the Chassis it names.

    Raises:
        RedfishError: a collection or service root (the user must pick a chassis), or no link.
    """
    doc = client.get(url)
    if "PowerWatts" in doc or "PowerControl" in doc:
        return url
    if "Members" in doc or "Chassis" in doc:
        members = [m.get("@odata.id") for m in doc.get("Members") or [] if isinstance(m, Mapping)]
        hint = f" (members: {', '.join(map(str, members))})" if members else ""
        raise RedfishError(f"{_public(url)} is a collection or service root, not a chassis{hint}")
    link = power_resource_link(doc)
    if link is None:
        raise RedfishError(f"{_public(url)} has no EnvironmentMetrics or Power link")
    return urllib.parse.urljoin(url, link)


class RedfishMeter(SamplingMeter):
    """Samples node power from a BMC's Redfish service every `period_s` (default 1 s).

    Construction resolves the resource and reads it once, so a meter that exists answered.

    Raises:
        RedfishError: TOKENBENCH_REDFISH_URL unset, unreachable, or without a power reading.
    """

    kind = "redfish"

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        period_s: float = 1.0,
        timeout_s: float = 5.0,
        clock: Clock = time.perf_counter_ns,
    ) -> None:
        super().__init__(period_s, clock)
        url = env.get("TOKENBENCH_REDFISH_URL")
        if not url:
            raise RedfishError("TOKENBENCH_REDFISH_URL is not set")
        insecure = env.get("TOKENBENCH_REDFISH_INSECURE") == "1"
        self.client = RedfishClient(
            env.get("TOKENBENCH_REDFISH_USER"),
            env.get("TOKENBENCH_REDFISH_PASSWORD"),
            insecure,
            timeout_s,
        )
        self.url = resolve_power_url(self.client, url)
        self.source = parse_redfish_power(self.client.get(self.url)).source
        self.notes = (
            ["TLS certificate not verified (TOKENBENCH_REDFISH_INSECURE=1)"] if insecure else []
        )

    def channel_info(self) -> list[tuple[str, Any, dict[str, Any]]]:
        return [
            (
                "node",
                "node",
                {
                    "power_source": f"Redfish {self.source} at {_public(self.url)}",
                    "notes": self.notes,
                },
            )
        ]

    def describe(self) -> str:
        return f"redfish: node ({_public(self.url)})"

    def read(self) -> None:
        buf = self.buffers[0]
        t0 = self.clock()
        try:
            power = parse_redfish_power(self.client.get(self.url))
        except RedfishError as exc:
            buf.error(self.clock(), str(exc))
            return
        buf.power((t0 + self.clock()) // 2, power.power_w)
