"""Video ingestion: every container, losslessness, idempotency, and every kind of bad input."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image

from studies.ingest import IngestError
from studies.models import Frame, Video, VideoFormat
from studies.services import video_ingest
from tests.platform.conftest import media_files, synthetic_frames, write_container

pytestmark = pytest.mark.django_db


def stored_frame(frame: Frame) -> np.ndarray:
    return cv2.imread(default_storage.path(frame.image.name), cv2.IMREAD_UNCHANGED)


def decode_all(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    return frames


@pytest.mark.parametrize(("suffix", "fourcc", "fmt"), [
    (".mp4", "mp4v", VideoFormat.MP4),
    (".avi", "MJPG", VideoFormat.AVI),
    (".mov", "mp4v", VideoFormat.MOV),
])
def test_containers_are_ingested_losslessly(tmp_path, patient, suffix, fourcc, fmt):
    path = write_container(tmp_path / f"clip{suffix}", synthetic_frames(colour=True), fourcc)

    result = video_ingest(source=path, original_name=path.name, patient=patient, lung_zone="R2")

    video = result.video
    assert result.created
    assert (video.format, video.frame_count, video.width, video.height) == (fmt, 6, 64, 48)
    assert video.fps == pytest.approx(25.0)
    assert video.lung_zone == "R2" and video.exam.patient == patient
    decoded = decode_all(path)
    frames = list(video.frames.order_by("index"))
    assert [f.index for f in frames] == list(range(6))
    for frame, expected in zip(frames, decoded, strict=True):
        assert np.array_equal(stored_frame(frame), expected)  # PNG is exact to the decoded frame


def test_gif_is_ingested(tmp_path, patient):
    images = [Image.fromarray(f[..., 0]) for f in synthetic_frames(n=4)]
    path = tmp_path / "loop.gif"
    images[0].save(path, save_all=True, append_images=images[1:], duration=40, loop=0)

    video = video_ingest(source=path, original_name="loop.gif", patient=patient).video

    assert video.format == VideoFormat.GIF
    assert video.frame_count == 4
    assert stored_frame(video.frames.get(index=1)).ndim == 2  # grey frames are stored as grey


def test_real_dataset_video_decodes_to_every_frame(dev_data, patient):
    path = dev_data / "lus_videos" / "patient_10_L1.mp4"
    video = video_ingest(source=path, original_name=path.name, patient=patient).video
    decoded = decode_all(path)
    assert video.frame_count == len(decoded) and (video.width, video.height) == (350, 350)
    last = video.frames.get(index=len(decoded) - 1)
    assert np.array_equal(stored_frame(last), decoded[-1][..., 0])


def test_upload_stream_is_ingested_like_a_path(tmp_path, patient):
    path = write_container(tmp_path / "clip.mp4", synthetic_frames(), "mp4v")
    result = video_ingest(source=io.BytesIO(path.read_bytes()), original_name="upload.mp4", patient=patient)
    assert result.created and result.video.frame_count == 6
    assert default_storage.exists(result.video.source_file.name)


def test_same_bytes_twice_add_nothing(tmp_path, patient, media_root):
    path = write_container(tmp_path / "clip.mp4", synthetic_frames(), "mp4v")
    first = video_ingest(source=path, original_name="a.mp4", patient=patient)
    files_after_first = sorted(media_files(media_root))

    second = video_ingest(source=path, original_name="renamed.mp4", patient=patient)

    assert not second.created and second.video.pk == first.video.pk
    assert Video.objects.count() == 1 and Frame.objects.count() == 6
    assert sorted(media_files(media_root)) == files_after_first


def assert_refused(source, name: str, reason: str, patient, media_root, **kwargs) -> None:
    with pytest.raises(IngestError) as caught:
        video_ingest(source=source, original_name=name, patient=patient, **kwargs)
    message = str(caught.value)
    assert message.startswith(f"{name}: "), message
    assert reason in message, message
    assert Video.objects.count() == 0 and Frame.objects.count() == 0
    assert media_files(media_root) == []


def test_text_file_renamed_mp4_is_refused(tmp_path, patient, media_root):
    path = tmp_path / "notes.mp4"
    path.write_text("patient looked fine, see you tomorrow\n" * 20)
    assert_refused(path, "notes.mp4", "looks like a text file", patient, media_root)


def test_empty_file_is_refused(tmp_path, patient, media_root):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    assert_refused(path, "empty.mp4", "empty", patient, media_root)


def test_corrupt_video_is_refused(tmp_path, patient, media_root):
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8)))
    assert_refused(path, "corrupt.mp4", "corrupt", patient, media_root)


def test_truncated_video_is_refused(dev_data, tmp_path, patient, media_root):
    whole = (dev_data / "lus_videos" / "patient_10_L1.mp4").read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(IngestError) as caught:
        video_ingest(source=path, original_name="cut.mp4", patient=patient)
    assert str(caught.value).startswith("cut.mp4: ")
    assert "truncated" in str(caught.value) or "corrupt" in str(caught.value)
    assert Video.objects.count() == 0 and media_files(media_root) == []


def test_truncated_in_the_middle_of_frames_is_refused(tmp_path, patient, media_root):
    """A file whose index promises more frames than its data holds (index first, data cut)."""
    path = write_container(tmp_path / "clip.avi", synthetic_frames(n=30), "MJPG")
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(IngestError) as caught:
        video_ingest(source=cut, original_name="cut.avi", patient=patient)
    assert "truncated" in str(caught.value) or "corrupt" in str(caught.value)
    assert Video.objects.count() == 0 and media_files(media_root) == []


def test_video_with_zero_frames_is_refused(tmp_path, patient, media_root):
    path = tmp_path / "nothing.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    writer.release()
    with pytest.raises(IngestError) as caught:
        video_ingest(source=path, original_name="nothing.avi", patient=patient)
    assert str(caught.value).startswith("nothing.avi: ")
    assert any(word in str(caught.value) for word in ("zero frames", "corrupt", "no frame size"))
    assert Video.objects.count() == 0 and media_files(media_root) == []


def test_huge_frames_are_refused_before_decoding(tmp_path, patient, media_root, settings):
    settings.PLEURA_MAX_FRAME_PIXELS = 32 * 32
    path = write_container(tmp_path / "big.mp4", synthetic_frames(), "mp4v")
    assert_refused(path, "big.mp4", "frame size 64×48 exceeds the limit", patient, media_root)


def test_error_midway_removes_frames_already_written(tmp_path, patient, media_root, monkeypatch):
    path = write_container(tmp_path / "clip.mp4", synthetic_frames(), "mp4v")
    import studies.ingest.store as store

    calls = {"n": 0}
    real = store.encode_frame_png

    def fail_on_fourth(frame):
        calls["n"] += 1
        if calls["n"] == 4:
            raise IngestError("clip.mp4", "simulated disk failure")
        return real(frame)

    monkeypatch.setattr(store, "encode_frame_png", fail_on_fourth)
    assert_refused(path, "clip.mp4", "simulated disk failure", patient, media_root)


def test_database_failure_removes_all_files(tmp_path, patient, media_root, monkeypatch):
    path = write_container(tmp_path / "clip.mp4", synthetic_frames(), "mp4v")
    from studies.models import Frame as FrameModel

    def broken_bulk_create(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(FrameModel.objects, "bulk_create", broken_bulk_create)
    with pytest.raises(RuntimeError):
        video_ingest(source=path, original_name="clip.mp4", patient=patient)
    assert Video.objects.count() == 0 and media_files(media_root) == []


def test_non_dicom_without_patient_is_refused(tmp_path, site, media_root):
    path = write_container(tmp_path / "clip.mp4", synthetic_frames(), "mp4v")
    with pytest.raises(IngestError, match=r"^clip.mp4: no patient given"):
        video_ingest(source=path, original_name="clip.mp4", site=site)
    assert media_files(media_root) == []


def test_memory_stays_flat_for_a_long_video(tmp_path, patient):
    """Frames are streamed one at a time: peak traced memory is far below the decoded video's size."""
    import tracemalloc

    n, height, width = 240, 240, 320
    frames = [np.full((height, width, 3), (i * 7) % 256, dtype=np.uint8) for i in range(4)]
    path = tmp_path / "long.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (width, height))
    for index in range(n):
        writer.write(frames[index % 4])
    writer.release()
    decoded_size = n * height * width * 3  # ~55 MB if the video were held in memory

    tracemalloc.start()
    try:
        video = video_ingest(source=path, original_name="long.avi", patient=patient).video
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert video.frame_count == n
    assert peak < decoded_size / 10, f"peak {peak / 2**20:.1f} MiB"
