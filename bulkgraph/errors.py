"""Exit codes and the error type every command reports cleanly."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes shared by every bulkgraph command (documented in the README)."""

    OK = 0
    FAILED = 1  # nothing usable was produced, or the command could not run
    USAGE = 2  # bad arguments (typer/click uses 2 as well)
    PARTIAL = 3  # done, but something was skipped or recorded as an error: read the summary


class BulkgraphError(Exception):
    """An error meant for the user: the message says what went wrong and where.

    The CLI prints the message without a traceback and exits with `exit_code`.
    """

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class InputError(BulkgraphError):
    """Bad input data: a snapshot, archive or CSV file that cannot be used as it is."""
