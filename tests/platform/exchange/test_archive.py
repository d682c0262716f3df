"""ZIP bombs (issue 16, item 11): uploaded archives are refused from their central directory before
anything is inflated, and a member that inflates past its declared size stops at that size."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from exchange.formats import FormatError, ZipLimits, zip_extract

MiB = 1 << 20
LIMITS = ZipLimits()


def zeros_member(name: str, size: int, *, level: int = 9) -> bytes:
    """A ZIP of one DEFLATEd member of ``size`` zero bytes, built in 1 MiB steps (small on disk: ~1000:1)."""
    buffer = io.BytesIO()
    with (zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as archive,
          archive.open(name, "w") as member):
        block, left = bytes(MiB), size
        while left:
            member.write(block[:min(left, MiB)])
            left -= min(left, MiB)
    return buffer.getvalue()


def with_declared_size(data: bytes, size: int) -> bytes:
    """Rewrite the uncompressed size in the local header and the central directory (a lying header)."""
    out = bytearray(data)
    local = out.index(b"PK\x03\x04")
    struct.pack_into("<I", out, local + 22, size)
    central = out.index(b"PK\x01\x02")
    struct.pack_into("<I", out, central + 24, size)
    return bytes(out)


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "upload.zip"
    path.write_bytes(data)
    return path


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the members zipfile was asked to inflate."""
    names: list[str] = []
    original = zipfile.ZipFile.open

    def spy(self: zipfile.ZipFile, name: str | zipfile.ZipInfo, mode: str = "r", *args: object,
            **kwargs: object) -> object:
        if mode == "r":
            names.append(name.filename if isinstance(name, zipfile.ZipInfo) else name)
        return original(self, name, mode, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    return names


def test_a_bomb_is_refused_from_the_central_directory_without_inflating(tmp_path: Path, opened: list[str]) -> None:
    bomb = zeros_member("1/0.json", 256 * MiB, level=1)  # ~1.1 MB on disk, 256 MiB unpacked
    assert len(bomb) < 2 * MiB
    tracemalloc.start()
    with pytest.raises(FormatError) as error:
        zip_extract(write(tmp_path, bomb), tmp_path / "out", limits=LIMITS)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "compressed 2" in str(error.value) and "ZIP bomb" in str(error.value)
    assert opened == [] and not (tmp_path / "out").exists()
    assert peak < 4 * MiB


def test_the_compression_ratio_is_limited(tmp_path: Path, opened: list[str]) -> None:
    bomb = zeros_member("1/0.json", 8 * MiB)  # under the size limits, but ~1000:1
    with pytest.raises(FormatError, match="ZIP bomb"):
        zip_extract(write(tmp_path, bomb), tmp_path / "out", limits=LIMITS)
    with pytest.raises(FormatError, match="the limit per file is 1,048,576"):
        zip_extract(write(tmp_path, bomb), tmp_path / "out", limits=ZipLimits(max_member_bytes=MiB, max_ratio=1e6))
    assert opened == []


def test_the_total_and_the_member_count_are_limited(tmp_path: Path, opened: list[str]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(5):
            archive.writestr(f"1/{index}.json", b"x" * 1000)
    path = write(tmp_path, buffer.getvalue())
    with pytest.raises(FormatError, match="5 members; the limit is 4"):
        zip_extract(path, tmp_path / "out", limits=ZipLimits(max_members=4))
    with pytest.raises(FormatError, match="unpack to 5,000 bytes; the limit is 4,999"):
        zip_extract(path, tmp_path / "out", limits=ZipLimits(max_total_bytes=4999))
    assert opened == []
    assert len(zip_extract(path, tmp_path / "out", limits=ZipLimits(max_total_bytes=5000))) == 5


def test_a_member_larger_than_its_header_says_stops_at_the_declared_size(tmp_path: Path) -> None:
    liar = with_declared_size(zeros_member("1/0.json", 64 * MiB), 1000)  # says 1000 bytes, inflates to 64 MiB
    tracemalloc.start()
    with pytest.raises(FormatError) as error:
        zip_extract(write(tmp_path, liar), tmp_path / "out", limits=LIMITS)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert error.value.problems[0][0] == "1/0.json"
    assert not (tmp_path / "out" / "1" / "0.json").exists()  # the partial file is removed
    assert peak < 4 * MiB  # at most a chunk was inflated, never the 64 MiB


def test_a_lying_member_is_never_written_past_its_declared_size(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The hard cap is ours, not only zipfile's: a reader that hands back more than declared is stopped."""
    data = zeros_member("1/0.json", 4 * MiB)
    original = zipfile.ZipExtFile.read

    def unbounded(self: zipfile.ZipExtFile, n: int = -1) -> bytes:
        self._left = 1 << 40  # what a reader without zipfile's own truncation would do
        return original(self, n)

    monkeypatch.setattr(zipfile.ZipExtFile, "read", unbounded)
    with pytest.raises(FormatError, match="more bytes than its header declares"):
        zip_extract(write(tmp_path, with_declared_size(data, 1000)), tmp_path / "out", limits=LIMITS)
    assert not (tmp_path / "out" / "1" / "0.json").exists()


def test_only_selected_members_are_inflated_and_paths_stay_inside(tmp_path: Path, opened: list[str]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("1/0.json", b"{}")
        archive.writestr("1/0.png", zlib.compress(b"png"))
    path = write(tmp_path, buffer.getvalue())
    files = zip_extract(path, tmp_path / "out", limits=LIMITS, select=lambda name: name.endswith(".json"))
    assert files == [(tmp_path / "out" / "1" / "0.json").resolve()] and opened == ["1/0.json"]

    escape = io.BytesIO()
    with zipfile.ZipFile(escape, "w") as archive:
        archive.writestr("../evil.json", b"{}")
    with pytest.raises(FormatError, match="escapes"):
        zip_extract(write(tmp_path, escape.getvalue()), tmp_path / "out2", limits=LIMITS)
    with pytest.raises(FormatError, match="not a readable ZIP"):
        zip_extract(write(tmp_path, b"not a zip"), tmp_path / "out3", limits=LIMITS)
