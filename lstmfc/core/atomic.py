"""Atomic file writes: write to a temporary file beside the target, fsync, rename.

``os.replace`` is atomic on POSIX within one file system, so a reader (or a crash)
sees either the old file or the complete new one, never a partial file. This is the
"nothing lost" rule of the developers' guide.

Temporaries are hidden siblings named ``.<target>.<pid>.<8 random chars><suffix>``
(suffix ``.tmp``, or ``.old`` for a folder being replaced). A process killed with
``SIGKILL`` cannot remove its own; :func:`sweep_stale` removes those whose process is
gone, and every writer here calls it on its folder first, so the next write cleans
up after a killed one (a live process's temporaries are never touched).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]{8}.*\.(tmp|old)$")


def temp_prefix(name: str) -> str:
    """Prefix of this process's temporaries for target ``name``: ``.<name>.<pid>.``."""
    return f".{name}.{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (owned by someone else), or unknowable: keep its files
    return True


def sweep_stale(folder: str | os.PathLike) -> list[Path]:
    """Remove temporaries in ``folder`` left by lstmfc processes that no longer run.

    Only hidden entries named like this module's temporaries
    (``.<name>.<pid>.<random><suffix>.tmp`` / ``.old``) whose ``pid`` is not a running
    process are removed (files or folders). Returns what was removed.
    """
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _TEMP_RE.match(p.name)
        if m is None or _pid_alive(int(m.group("pid"))):
            continue
        with contextlib.suppress(OSError):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; on success rename it onto ``target``.

    If the body raises (including ``KeyboardInterrupt``), the temporary file is removed
    and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target.parent)
    fd, tmp = tempfile.mkstemp(
        prefix=temp_prefix(target.name),
        suffix=suffix or target.suffix + ".tmp",
        dir=target.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
        _fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    atomic_write_bytes(target, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success rename it to ``target``.

    ``target`` must not exist yet (run folders are never overwritten). On failure or
    interruption the temporary folder is removed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        for p in tmp.rglob("*"):
            if p.is_file():
                with open(p, "rb+") as fh:
                    os.fsync(fh.fileno())
        os.rename(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_dir(target: str | os.PathLike, build: Path) -> None:
    """Swap the complete folder ``build`` into place at ``target``.

    An existing ``target`` is first renamed aside and removed only after ``build``
    is in place: a reader never sees a mix of old and new files (during the two
    renames it may briefly find no folder), and a failure puts the old one back.
    """
    target = Path(target)
    old = None
    if target.exists():
        old = Path(
            tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=".old", dir=target.parent)
        )
        os.rmdir(old)
        os.rename(target, old)
    try:
        os.rename(build, target)
    except BaseException:
        if old is not None:
            os.rename(old, target)
        raise
    _fsync_dir(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def atomic_symlink(link: str | os.PathLike, points_to: str) -> None:
    """Point symlink ``link`` at ``points_to`` (relative), switching atomically."""
    link = Path(link)
    link.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(link.parent)
    tmp = link.parent / f"{temp_prefix(link.name)}{secrets.token_hex(4)}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(points_to, tmp)
    os.replace(tmp, link)
    _fsync_dir(link.parent)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes (streamed, so any size).

    The one checksum helper of lstmfc: raw series, prepared files, bundle files and
    backtest models are all recorded and verified with it.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
