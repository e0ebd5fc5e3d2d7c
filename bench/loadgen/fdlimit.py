"""Enough open files for the planned load, checked before a run starts.

Each request in flight holds one socket; the process also holds its logs, the tokenizer's
files, meters and worker channels (`FD_HEADROOM`). A soft RLIMIT_NOFILE below that makes
connections fail with EMFILE half-way through a run, so the soft limit is raised up to
the hard one when that covers the need, and the run is refused (with the fix) when not.
"""

from __future__ import annotations

from bench.errors import UserError

FD_HEADROOM = 64


def in_flight_cap(load: object) -> int | None:
    """Most requests the load keeps in flight: the concurrency, an open loop's
    max_concurrency, or None (an uncapped open loop has no bound)."""
    cap = getattr(load, "concurrency", None) or getattr(load, "max_concurrency", None)
    return int(cap) if cap is not None else None


def fds_needed(in_flight: int) -> int:
    """Open files for `in_flight` connections: one each, plus FD_HEADROOM."""
    return in_flight + FD_HEADROOM


def ensure_fd_limit(in_flight: int | None) -> int:
    """Make the soft open-file limit cover `in_flight` connections; return the limit now.

    An uncapped load (None) gets the hard limit, the most it can have.

    Raises:
        UserError: the hard limit is below what `in_flight` needs.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX: nothing to check
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = hard == resource.RLIM_INFINITY
    need = fds_needed(in_flight) if in_flight is not None else hard
    if in_flight is not None and not unlimited and need > hard:
        raise UserError(
            f"this run keeps {in_flight} requests in flight and needs {need} open files, "
            f"but the open-file limit here is {hard}",
            field="--concurrency",
            fix=f"raise the limit (`ulimit -n {need}`, or LimitNOFILE= for a service), "
            f"or keep at most {max(1, hard - FD_HEADROOM)} requests in flight",
        )
    if unlimited and in_flight is None:
        return soft if soft != resource.RLIM_INFINITY else 0
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
        return need
    return soft
