"""Universes of tickers: ``--tickers-file FILE`` (one ticker per line).

File format (plain UTF-8 text)::

    # S&P 500 sample and a few large caps
    SP500
    AAPL        # trailing comments are allowed too
    msft        # case does not matter: stored as MSFT

    BRK-B

* one ticker per line, in the spelling Yahoo Finance uses (``BRK-B``, ``^GSPC``,
  ``EURUSD=X``); names are upper-cased like every other lstmfc command does;
* ``#`` starts a comment (a whole line or the rest of a line);
* blank lines are ignored; a ticker listed twice is kept once, at its first place.

No pandas or NumPy here: the CLI imports this module at parse time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from lstmfc.core.config import normalize_ticker
from lstmfc.core.errors import DataError, UsageError

__all__ = ["merge_tickers", "parse_tickers_text", "read_tickers_file"]


def parse_tickers_text(text: str, label: str = "tickers file") -> list[str]:
    """Parse the content of a tickers file (see the module docstring).

    Parameters
    ----------
    text : str
        File content.
    label : str
        Name used in error messages (usually the file path).

    Returns
    -------
    list of str
        Normalised (upper-case) tickers in file order, without duplicates.

    Raises
    ------
    DataError
        A line holds more than one word or an invalid ticker (the message names the
        line number), or the file lists no ticker at all.
    """
    out: list[str] = []
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        if len(body.split()) > 1:
            raise DataError(
                f"{label} line {lineno}: {body!r} holds more than one ticker; "
                "put one ticker per line"
            )
        try:
            t = normalize_ticker(body)
        except UsageError as exc:
            raise DataError(f"{label} line {lineno}: {exc}") from None
        if t not in seen:
            seen.add(t)
            out.append(t)
    if not out:
        raise DataError(f"{label} lists no tickers (one per line; # starts a comment)")
    return out


def read_tickers_file(path: str | os.PathLike) -> list[str]:
    """Read a ``--tickers-file``: one ticker per line, ``#`` comments, blanks ignored.

    Parameters
    ----------
    path : str or PathLike
        The file.

    Returns
    -------
    list of str
        Normalised tickers in file order, duplicates removed.

    Raises
    ------
    DataError
        The file does not exist, is a folder, cannot be read or decoded as UTF-8,
        holds an invalid ticker (named with its line number) or no ticker at all.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"tickers file {p} does not exist")
    if not p.is_file():
        raise DataError(f"tickers file {p} is not a file")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"tickers file {p} is not UTF-8 text") from None
    except OSError as exc:
        raise DataError(f"cannot read tickers file {p}: {exc.strerror or exc}") from None
    return parse_tickers_text(text, label=str(p))


def merge_tickers(
    tickers: Iterable[str] | None,
    tickers_file: str | os.PathLike | None = None,
    *,
    strict: bool = True,
) -> list[str]:
    """Tickers from the command line followed by those of ``tickers_file``, deduplicated.

    The one place where every command that takes ``TICKER...`` and
    ``--tickers-file`` merges them.

    Parameters
    ----------
    tickers : iterable of str, optional
        Positional ``TICKER...`` arguments.
    tickers_file : str or PathLike, optional
        ``--tickers-file``.
    strict : bool
        Normalise command-line tickers here, so a malformed one fails the command
        (UsageError). With ``strict=False`` they are kept as typed (deduplicated
        case-insensitively) so that a command handling tickers one by one reports a
        malformed one as that ticker's error and goes on with the others.

    Returns
    -------
    list of str
        Tickers, command line first, each once.

    Raises
    ------
    UsageError
        A malformed ticker on the command line (``strict``), or no ticker at all.
    DataError
        As :func:`read_tickers_file`.
    """
    out: list[str] = []
    seen: set[str] = set()
    for t in tickers or ():
        n = normalize_ticker(t) if strict else t
        if n.strip().upper() not in seen:
            seen.add(n.strip().upper())
            out.append(n)
    if tickers_file is not None:
        for n in read_tickers_file(tickers_file):
            if n not in seen:
                seen.add(n)
                out.append(n)
    if not out:
        raise UsageError("give at least one TICKER or --tickers-file FILE")
    return out
