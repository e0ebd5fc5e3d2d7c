"""Terminal tables: the columns that matter first, fitted to the width by hand-counted sizes."""

from __future__ import annotations

from bench.render.terminal import BORDER, TermColumn, fit

COLUMNS = [
    TermColumn(header="id", priority=0),  # width 6 (cell "run-01")
    TermColumn(header="note", priority=3),  # width 20
    TermColumn(header="cost", priority=1),  # width 5
    TermColumn(header="tok/s", priority=2),  # width 6
]
ROWS = [["run-01", "x" * 20, "1.234", "1234.5"]]


def test_fit_keeps_priorities_in_their_original_order() -> None:
    assert BORDER == 3
    # table width = 1 + Σ (width + 3): id 9, cost 8, tok/s 9, note 23
    assert fit(COLUMNS, ROWS, 1 + 9 + 8 + 9 + 23) == [0, 1, 2, 3]
    assert fit(COLUMNS, ROWS, 1 + 9 + 8 + 9 + 22) == [0, 2, 3]  # note no longer fits
    assert fit(COLUMNS, ROWS, 1 + 9 + 8 + 8) == [0, 2]  # tok/s needs 9
    assert fit(COLUMNS, ROWS, 5) == [0]  # priority 0 is shown even when nothing fits


def test_fit_stops_at_the_first_column_that_does_not_fit() -> None:
    narrow_last = [*COLUMNS[:3], TermColumn(header="x", priority=4)]  # width 1 + 3
    rows = [[*ROWS[0][:3], "y"]]
    # the note (priority 3) does not fit: the narrower, less important "x" is not shown in its place
    assert fit(narrow_last, rows, 1 + 9 + 8 + 23 - 1) == [0, 2]  # x (4 wide) would fit
