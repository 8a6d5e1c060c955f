"""Atomic writes: an output file is either complete or absent, never half-written.

Every writer of the package goes through :func:`write_with` (or :func:`write_all` for the
several outputs of one command, which are all written or none is). A path the user
cannot write to (a folder that does not exist or is read-only, a name that is an
existing folder, a full disk) raises :class:`~partimento.grammar.errors.InputError`
naming the file, so the CLI answers with one line and exit status 2, never a traceback.
:func:`check_writable` asks the same questions before a command spends time computing.
"""
from __future__ import annotations

import errno
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from .errors import PartimentoError

__all__ = ["write_text_atomic", "write_bytes_atomic", "write_with", "write_all", "check_writable", "unwritable"]

_REASONS = {
    errno.EACCES: "permission denied (the folder is not writable)",
    errno.EPERM: "permission denied (the folder is not writable)",
    errno.EROFS: "the folder is on a read-only file system",
    errno.EISDIR: "is a folder; give a file name",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENOENT: "the output folder does not exist",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENAMETOOLONG: "the file name is too long",
}


def unwritable(path: str | Path, exc: OSError, option: str | None = None):
    """The InputError to raise when writing ``path`` failed with ``exc``."""
    from .errors import InputError, Location

    reason = _REASONS.get(exc.errno or -1) or (exc.strerror or type(exc).__name__).lower()
    what = f"cannot write {option} here: " if option else "cannot write here: "
    return InputError(what + reason + ".", Location(file=str(path)))


def check_writable(path: str | Path, option: str | None = None) -> Path:
    """Refuse, before any work, an output path that cannot be written (InputError naming it)."""
    from .errors import InputError, Location

    path = Path(path)
    where = Location(file=str(path))
    prefix = f"cannot write {option} here: " if option else "cannot write here: "
    if str(path) in ("", "."):
        raise InputError(prefix + "no file name given.", where)
    if path.is_dir():
        raise InputError(prefix + "is a folder; give a file name.", where)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise InputError(prefix + "the output folder does not exist.", where)
    if not parent.is_dir():
        raise InputError(prefix + "a part of the path is a file, not a folder.", where)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(prefix + "permission denied (the folder is not writable).", where)
    if path.exists() and not os.access(path, os.W_OK) and not os.access(parent, os.W_OK):
        raise InputError(prefix + "permission denied (the file is read-only).", where)
    return path


def _temp_for(path: Path) -> Path:
    """An empty temporary file beside ``path`` (same folder, so the final rename is atomic)."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if not parent.exists():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(parent))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem[:40]}.", suffix=path.suffix[:20], dir=parent)
    os.close(fd)
    return Path(tmp)


def write_all(outputs: Sequence[tuple[str | Path, Callable[[Path], object]]]) -> list[Path]:
    """Write several files, all or none: ``writer(tmp)`` for each, then move them into place.

    Every writer runs on a temporary file beside its target first; only when all have
    succeeded are they renamed into place. If a rename fails, the files already moved are
    put back as they were (an earlier file of the same name is restored), so a failure
    anywhere leaves the folders as they were. Unwritable paths raise InputError.
    """
    items = [(Path(p), w) for p, w in outputs]
    temps: list[tuple[Path, Path]] = []
    try:
        for path, writer in items:
            try:
                tmp = _temp_for(path)
            except OSError as e:
                raise unwritable(path, e) from None
            temps.append((tmp, path))
            try:
                writer(tmp)
            except OSError as e:
                if e.filename is not None and Path(e.filename) == tmp:
                    raise unwritable(path, e) from None
                raise
            except PartimentoError as e:  # an error naming the temporary file names the file asked for
                if e.location.file == str(tmp):
                    e.location = replace(e.location, file=str(path))
                raise
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        moved: list[tuple[Path, Path | None]] = []  # (target, backup of what it replaced)
        try:
            for tmp, path in temps:
                backup = None
                if path.exists():
                    backup = _temp_for(path)
                    os.replace(path, backup)
                moved.append((path, backup))
                os.replace(tmp, path)
        except OSError as e:
            failed = path
            for done, backup in reversed(moved):
                if backup is not None:
                    os.replace(backup, done)
                else:
                    done.unlink(missing_ok=True)
            raise unwritable(failed, e) from None
        for _, backup in moved:
            if backup is not None:
                backup.unlink(missing_ok=True)
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
    return [p for p, _ in items]


def write_with(path: str | Path, writer: Callable[[Path], object]) -> Path:
    """Call ``writer(tmp_path)`` then move the file into place; remove it on any error."""
    return write_all([(path, writer)])[0]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_with(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    return write_with(path, lambda p: p.write_bytes(data))
