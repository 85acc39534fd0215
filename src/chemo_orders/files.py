"""Output files: written atomically, as a set, and never over one of the inputs.

Atomic: each file is written to a temporary beside its target and renamed into place, so a
reader (a printer queue, a pharmacy system polling a folder) never sees half a file, and a
failure or a blocked order leaves no file at all.

As a set: the PDF and HTML of one order set are one document in two forms. Both temporaries
are written first, then renamed; if a later rename fails the earlier targets are removed, so
a folder never holds a PDF whose HTML says something else (both or neither).

Never over an input: ``--html`` pointing at the patient file once overwrote it. Outputs are
compared with every input and with each other by resolved path, and by inode where both
exist (a hard link or a case-insensitive file system makes two spellings one file).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .errors import InputError


def write_atomic(path: Path, data: bytes) -> None:
    """One file, atomically."""
    write_together([(path, data)])


def write_together(files: Sequence[tuple[Path, bytes]]) -> None:
    """Every file or none: all temporaries first, then the renames, undone on a failure."""
    pending: list[tuple[Path, Path]] = []  # (temporary, target)
    try:
        for path, data in files:
            pending.append((_temporary(path, data), path))
    except BaseException:
        for temporary, _ in pending:
            temporary.unlink(missing_ok=True)
        raise
    placed: list[Path] = []
    target = pending[0][1] if pending else Path(".")
    try:
        for temporary, target in pending:
            os.replace(temporary, target)
            placed.append(target)
    except BaseException as error:
        for path in placed:
            path.unlink(missing_ok=True)
        for temporary, _ in pending[len(placed) :]:
            temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise InputError("output", str(target), f"cannot write ({error.__class__.__name__})") from None
        raise


def _temporary(path: Path, data: bytes) -> Path:
    """``data`` in a synced temporary file in ``path``'s folder (so the rename is atomic)."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise InputError("output", str(path), f"cannot create the file ({error.__class__.__name__})") from None
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise InputError("output", str(path), f"cannot write ({error.__class__.__name__})") from None
        raise
    return temporary


def _identities(path: Path) -> set[object]:
    """What makes two paths one file: the resolved path, and the inode when the file exists
    (what ``os.path.samefile`` compares: hard links, case-insensitive file systems)."""
    found: set[object] = {path.resolve()}
    try:
        info = path.stat()
    except OSError:  # not there (yet): the resolved path decides
        return found
    found.add((info.st_dev, info.st_ino))
    return found


def refuse_overwriting(outputs: Sequence[tuple[str, Path | None]], inputs: Sequence[tuple[str, Path | None]]) -> None:
    """Exit 2 when an output is an input or another output; names are the options given."""
    seen: dict[object, tuple[str, Path]] = {}
    for name, path in inputs:
        if path is not None:
            for identity in _identities(path):
                seen.setdefault(identity, (name, path))
    for name, path in outputs:
        if path is None:
            continue
        identities = _identities(path)
        for identity in identities:
            if identity in seen:
                other, other_path = seen[identity]
                raise InputError(
                    name, str(path), f"is the same file as {other} ({other_path}): refusing to overwrite it"
                )
        for identity in identities:
            seen[identity] = (name, path)
