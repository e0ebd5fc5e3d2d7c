"""User-facing errors: each names the file, the field and the fix.

A `UserError` is printed by the CLI as one short message with exit code 2 and no
traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """Bad input or environment the user can fix.

    Args:
        message: what is wrong.
        file: the file (or URL) the problem is in, if any.
        field: the dotted field path inside it, if any.
        fix: what would be valid / what to do.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.field = field
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        where = ""
        if self.file and self.field:
            where = f"{self.file}: {self.field}: "
        elif self.file:
            where = f"{self.file}: "
        elif self.field:
            where = f"{self.field}: "
        text = f"{where}{self.message}"
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class RunFailed(Exception):
    """A benchmark run could not complete (server died, endpoint vanished).

    The run directory is left readable and marked partial before this is raised.
    """

    def __init__(self, message: str, run_dir: Path | None = None) -> None:
        self.run_dir = run_dir
        super().__init__(message)


class Interrupted(KeyboardInterrupt):
    """A stop signal (SIGINT, SIGTERM, SIGHUP) ended the command; exit code 128 + signum.

    `run_dir` is set when a run was under way: its partial results were written there.
    The newest one is kept as `Interrupted.last`: the CLI framework turns an interrupt into
    a bare exit code (130), and the CLI reads the signal and the run directory back here.
    """

    last: Interrupted | None = None

    def __init__(self, signum: int, run_dir: Path | None = None) -> None:
        self.signum = signum
        self.run_dir = run_dir
        super().__init__(signum)
        Interrupted.last = self

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
