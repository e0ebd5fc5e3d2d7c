"""A run bounded by time that ran out of prepared requests says so."""

from __future__ import annotations

from bench.loadgen.drive import DriveStats
from bench.run_load import ran_out_note


def test_a_run_that_ran_out_of_requests_before_its_deadline_says_so() -> None:
    ran_out = DriveStats(wall_s=12.4, not_due=0)
    assert ran_out_note(30.0, ran_out) == (
        "every prepared request was sent after 12.4 s of the 30 s asked for, so the run is "
        "shorter than asked; pass --num-requests (with --duration) to prepare more"
    )


def test_no_note_when_the_deadline_ended_the_run_or_there_was_none() -> None:
    assert ran_out_note(30.0, DriveStats(wall_s=30.2, not_due=0)) is None  # drained after it
    assert ran_out_note(30.0, DriveStats(wall_s=29.8, not_due=0)) is None  # within 1 %
    assert ran_out_note(30.0, DriveStats(wall_s=30.1, not_due=5)) is None  # deadline came
    assert ran_out_note(None, DriveStats(wall_s=3.0, not_due=0)) is None  # bounded by count
