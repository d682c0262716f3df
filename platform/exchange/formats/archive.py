"""Reading uploaded ZIP archives without letting them explode.

A ZIP's central directory declares each member's compressed and uncompressed size, so a "ZIP bomb" (a
megabyte that inflates to a gigabyte) can be refused before anything is decompressed: too many members,
too many bytes in all or in one member, or too high a compression ratio. The declared sizes can lie, so
members are then copied in chunks with a hard cap: a member that inflates past its declared size (or past
the limits) stops there with an error, and what was written is removed. Every ZIP Pleura reads goes
through :func:`zip_extract`.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .readers import FormatError

__all__ = ["ZipLimits", "zip_extract"]

#: Bytes read from a member at a time: memory stays at this, whatever the archive holds.
_CHUNK = 1 << 20
#: Members (and archives) smaller than this are not held to the ratio: tiny JSON files compress well and
#: cannot be a bomb; the byte limits bound them.
_RATIO_FLOOR = 1 << 20


@dataclass(frozen=True)
class ZipLimits:
    """What an uploaded archive may hold (settings ``PLEURA_ZIP_*`` give the platform's values)."""

    max_members: int = 100_000
    max_total_bytes: int = 1 << 30
    max_member_bytes: int = 64 << 20
    max_ratio: float = 100.0


def _refuse(message: str, where: str = "file") -> FormatError:
    return FormatError([(where, message)])


def _check(members: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    """Refuse by the central directory's figures alone, before any byte is inflated."""
    total = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members)
    if total > limits.max_total_bytes:
        raise _refuse(f"the archive would unpack to {total:,} bytes; the limit is {limits.max_total_bytes:,}")
    if total > _RATIO_FLOOR and total > limits.max_ratio * max(packed, 1):
        raise _refuse(f"the archive is compressed {total / max(packed, 1):,.0f}:1; the limit is "
                      f"{limits.max_ratio:,.0f}:1 (a ZIP bomb?)")
    for member in members:
        if member.file_size > limits.max_member_bytes:
            raise _refuse(f"{member.file_size:,} bytes unpacked; the limit per file is "
                          f"{limits.max_member_bytes:,}", member.filename)
        if member.file_size > _RATIO_FLOOR and member.file_size > limits.max_ratio * max(member.compress_size, 1):
            raise _refuse(f"compressed {member.file_size / max(member.compress_size, 1):,.0f}:1; the limit is "
                          f"{limits.max_ratio:,.0f}:1 (a ZIP bomb?)", member.filename)
        if member.flag_bits & 0x1:
            raise _refuse("encrypted members are not supported", member.filename)


def _copy(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, budget: int) -> int:
    """Inflate one member into ``target`` in chunks; never more than its declared size (nor ``budget``)."""
    cap = min(member.file_size, budget)
    written = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(member) as source, target.open("wb") as sink:
        while chunk := source.read(min(_CHUNK, cap - written + 1)):
            written += len(chunk)
            if written > cap:
                raise _refuse("unpacks to more bytes than its header declares (a ZIP bomb?)", member.filename)
            sink.write(chunk)
    return written


def _remove(files: list[Path]) -> None:
    for file in files:
        file.unlink(missing_ok=True)


def zip_extract(path: Path, folder: Path, *, limits: ZipLimits,
                select: Callable[[str], bool] = lambda name: True) -> list[Path]:
    """Extract the members of the ZIP at ``path`` whose names pass ``select`` into ``folder``.

    Members not selected are never inflated. Raises FormatError (no extracted file left behind) when the
    file is no ZIP, a name escapes the folder, a limit is passed by the declared sizes, or a member
    inflates past its declared size or is corrupt.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise _refuse("not a readable ZIP archive") from error
    with archive:
        entries = archive.infolist()
        if len(entries) > limits.max_members:
            raise _refuse(f"{len(entries):,} members; the limit is {limits.max_members:,}")
        root = folder.resolve()
        members: list[tuple[zipfile.ZipInfo, Path]] = []
        for member in entries:
            target = (folder / member.filename).resolve()
            if root not in target.parents and target != root:
                raise _refuse("path escapes the archive", member.filename)
            if not member.is_dir() and select(member.filename):
                members.append((member, target))
        _check([m for m, _ in members], limits)
        extracted: list[Path] = []
        budget = limits.max_total_bytes
        try:
            for member, target in members:
                budget -= _copy(archive, member, target, budget)
                extracted.append(target)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
            _remove([*extracted, target])
            raise _refuse(f"corrupt or unsupported member ({error})", member.filename) from error
        except FormatError:
            _remove([*extracted, target])
            raise
    return extracted
