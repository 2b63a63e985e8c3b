"""Error classes of lstmfc, caught only at the CLI edge (docs/architecture.md).

Each kind carries the process exit code the CLI maps it to:

* :class:`DataError` / :class:`ArtifactError` -> 1 (user-fixable: bad data, missing
  or refused artifact, failed validation),
* :class:`UsageError` -> 2 (bad option values that Typer itself cannot check),
* :class:`TemporaryFailure` -> 75 (``EX_TEMPFAIL`` from ``sysexits.h``: network,
  rate limit, a lock held by another run; worth retrying).
"""

from __future__ import annotations


class LstmfcError(Exception):
    """Base class: a one-line, user-facing message and an exit code."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # one line, always
        return " ".join(str(self.message).split())


class DataError(LstmfcError):
    """Input data is missing, malformed or too short (exit code 1)."""

    exit_code = 1


class ArtifactError(LstmfcError):
    """A prepared dataset or model bundle is missing, corrupt or refused (exit code 1)."""

    exit_code = 1


class UsageError(LstmfcError):
    """An option value is invalid in a way the parser cannot see (exit code 2)."""

    exit_code = 2


class TemporaryFailure(LstmfcError):
    """A failure worth retrying later: network, rate limit, lock held (exit code 75)."""

    exit_code = 75


EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TEMPFAIL = 75
