"""Manifests, frame loading, transforms and patient-level splits."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.data import (
    FrameDataset,
    LUSAugment,
    ManifestError,
    ManifestRow,
    VideoFrameCache,
    patient_kfold,
    patient_train_test_split,
    read_manifest,
    resize_pad,
    rows_for_patients,
    to_tensor,
    write_manifest,
)


def lus_like(seed: int, h: int = 48, w: int = 64, streaks: int = 0) -> np.ndarray:
    """Dark speckle, a bright horizontal pleural line, optional vertical streaks (B-lines)."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 40, (h, w)).astype(np.uint8)
    img[h // 4 : h // 4 + 2] = 220
    for i in range(streaks):
        x = (i + 1) * w // (streaks + 1)
        img[h // 4 :, x : x + 2] = 180
    return img


def write_mp4(path: Path, frames: np.ndarray) -> Path:
    h, w = frames.shape[1:]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (w, h), True)
    assert vw.isOpened()
    for f in frames:
        vw.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
    vw.release()
    return path


@pytest.fixture
def frames_dir(tmp_path: Path) -> Path:
    (tmp_path / "img").mkdir()
    for i in range(3):
        cv2.imwrite(str(tmp_path / "img" / f"f{i}.png"), lus_like(i, streaks=i))
    video = np.stack([np.full((40, 60), 10 * t, np.uint8) for t in range(8)])
    write_mp4(tmp_path / "clip.mp4", video)
    return tmp_path


# -------------------------------------------------------------------------------------------- manifests


def test_read_jsonl_manifest_resolves_paths(frames_dir: Path):
    lines = [
        {"image": "img/f0.png", "score": 0, "patient": "p1", "video": "v1"},
        {"image": "img/f1.png", "score": 2.0, "patient": "p1", "annotator": "a"},
        {"video": "clip.mp4", "frame": 3, "score": 1, "patient": "p2"},
        {"video": "clip.mp4", "frame": 4, "patient": "p2", "video_id": "clipX", "probe": "convex"},
    ]
    m = frames_dir / "m.jsonl"
    m.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    rows = read_manifest(m)
    assert len(rows) == 4
    assert rows[0].image == frames_dir / "img/f0.png" and rows[0].video == "v1" and rows[0].score == 0
    assert rows[1].video == "f1" and rows[1].score == 2 and rows[1].annotator == "a"
    assert rows[2].video_path == frames_dir / "clip.mp4" and rows[2].frame == 3 and rows[2].video == "clip"
    assert rows[3].score is None and rows[3].video == "clipX" and rows[3].extra == {"probe": "convex"}
    assert rows[2].key.endswith("clip.mp4#3")


def test_csv_manifest_and_roundtrip(frames_dir: Path, tmp_path: Path):
    m = frames_dir / "m.csv"
    m.write_text("image,video,frame,score,patient\nimg/f0.png,v1,,3,p1\n,clip.mp4,2,1,p2\n")
    rows = read_manifest(m)
    assert rows[0].image == frames_dir / "img/f0.png" and rows[0].score == 3
    assert rows[1].video_path == frames_dir / "clip.mp4" and rows[1].frame == 2
    for name in ("sub/out.jsonl", "sub/out.csv"):
        out = write_manifest(tmp_path / name, rows)
        again = read_manifest(out)
        assert [(r.source.resolve(), r.frame, r.score, r.patient, r.video) for r in again] == [
            (r.source.resolve(), r.frame, r.score, r.patient, r.video) for r in rows
        ]
        text = out.read_text()
        assert str(frames_dir) not in text and "../img/f0.png" in text  # relative to the manifest


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"image": "a.png", "score": 1}, "patient"),
        ({"image": "a.png", "score": 5, "patient": "p"}, "score"),
        ({"image": "a.png", "score": 1.5, "patient": "p"}, "score"),
        ({"image": "a.png", "score": "x", "patient": "p"}, "score"),
        ({"video": "v.mp4", "frame": -1, "patient": "p"}, "frame"),
        ({"frame": 2, "patient": "p"}, "video"),
        ({"image": "a.png", "video": "v.mp4", "frame": 1, "patient": "p"}, "either"),
        ({"score": 1, "patient": "p"}, "image"),
        ([1, 2], "object"),
    ],
)
def test_bad_rows_name_the_line(tmp_path: Path, row, message):
    m = tmp_path / "bad.jsonl"
    good = json.dumps({"image": "a.png", "score": 0, "patient": "p"})
    m.write_text(good + "\n" + good + "\n" + json.dumps(row) + "\n")
    with pytest.raises(ManifestError, match=rf"bad\.jsonl:3: .*{message}"):
        read_manifest(m)


def test_bad_files(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        read_manifest(tmp_path / "missing.jsonl")
    (tmp_path / "m.txt").write_text("x")
    with pytest.raises(ManifestError, match="extension"):
        read_manifest(tmp_path / "m.txt")
    (tmp_path / "j.jsonl").write_text('{"image": "a.png", "patient": "p"}\n{oops\n')
    with pytest.raises(ManifestError, match=r"j\.jsonl:2: invalid JSON"):
        read_manifest(tmp_path / "j.jsonl")
    (tmp_path / "c.csv").write_text("image,patient,score\na.png,p,0\nb.png,p,7\n")
    with pytest.raises(ManifestError, match=r"c\.csv:3: score"):
        read_manifest(tmp_path / "c.csv")


# -------------------------------------------------------------------------------------------- transforms


def test_resize_pad_keeps_aspect_ratio():
    img = np.full((100, 200), 255, np.uint8)
    out, info = resize_pad(img, (64, 64))
    assert out.shape == (64, 64)
    rows_with_content = np.flatnonzero(out.max(1) > 0)
    assert rows_with_content[0] == 16 and rows_with_content[-1] == 47  # 32 rows, centred
    assert (out[:16] == 0).all() and (out[48:] == 0).all()
    assert info.scale == pytest.approx(0.32) and (info.top, info.left) == (16, 0)
    assert np.allclose(info.to_original(np.array([[0.0, 16.0], [64.0, 48.0]])), [[0, 0], [200, 100]])
    tall, info2 = resize_pad(np.full((90, 30), 255, np.uint8), (60, 60))
    cols = np.flatnonzero(tall.max(0) > 0)
    assert (cols[0], cols[-1]) == (20, 39) and info2.left == 20
    with pytest.raises(ValueError):
        resize_pad(np.zeros((3, 4, 5), np.uint8), (10, 10))
    with pytest.raises(ValueError):
        resize_pad(img, (0, 10))


def test_to_tensor_range():
    t = to_tensor(np.array([[0, 255]], np.uint8))
    assert t.shape == (1, 1, 2) and t.min() == -1 and t.max() == 1


def test_augment_is_seeded_and_in_range():
    x = to_tensor(lus_like(0, 32, 32))
    aug = LUSAugment()
    torch.manual_seed(3)
    a = aug(x)
    torch.manual_seed(3)
    b = aug(x)
    assert torch.equal(a, b) and a.shape == x.shape
    assert a.min() >= -1 and a.max() <= 1
    assert not torch.equal(a, x)
    batch = aug(torch.stack([x, x]))
    assert batch.shape == (2, 1, 32, 32)
    with pytest.raises(ValueError):
        LUSAugment(hflip_p=2)
    with pytest.raises(ValueError):
        aug(torch.zeros(2, 3, 8, 8))


# -------------------------------------------------------------------------------------------- dataset


def test_frame_dataset_images_and_video(frames_dir: Path):
    rows = [
        ManifestRow(patient="p1", video="v", score=1, image=frames_dir / "img/f0.png"),
        ManifestRow(patient="p2", video="clip", score=None, video_path=frames_dir / "clip.mp4", frame=5),
        ManifestRow(patient="p2", video="clip", score=2, video_path=frames_dir / "clip.mp4", frame=0),
    ]
    cache = VideoFrameCache()
    ds = FrameDataset(rows, size=(32, 48), cache=cache)
    x, y = ds[0]
    assert x.shape == (1, 32, 48) and x.dtype == torch.float32 and y == 1
    assert x.min() >= -1 and x.max() <= 1
    x5, y5 = ds[1]
    assert y5 == -1
    x0, _ = ds[2]
    # video frames t have intensity 10 t (mp4v is lossy: allow a little error)
    assert abs(((x5 + 1) * 127.5).mean().item() - 50) < 6
    assert ((x0 + 1) * 127.5).mean().item() < 6
    assert cache.decodes == 1  # decoded once for both frames
    for _ in range(3):
        ds[1]
    assert cache.decodes == 1
    assert ds.labels == [1, -1, 2]
    aug = FrameDataset(rows, size=(32, 48), augment=True, cache=cache)
    assert aug[0][0].shape == (1, 32, 48)
    bad = FrameDataset(
        [ManifestRow(patient="p", video="c", video_path=frames_dir / "clip.mp4", frame=99)], size=(32, 32)
    )
    with pytest.raises(IndexError, match="out of range"):
        bad[0]
    with pytest.raises(FileNotFoundError):
        FrameDataset([ManifestRow(patient="p", video="x", image=frames_dir / "nope.png")], size=(32, 32))[0]


def test_video_cache_is_bounded_lru(frames_dir: Path, tmp_path: Path):
    for i in range(3):
        write_mp4(tmp_path / f"v{i}.mp4", np.full((4, 16, 16), 50 * i, np.uint8))
    one = 4 * 16 * 16
    cache = VideoFrameCache(max_bytes=2 * one)
    for i in range(3):
        assert cache.frame(tmp_path / f"v{i}.mp4", 0).shape == (16, 16)
    assert len(cache) == 2 and cache.nbytes == 2 * one
    cache.frame(tmp_path / "v2.mp4", 1)  # hit
    assert cache.decodes == 3
    cache.frame(tmp_path / "v0.mp4", 0)  # evicted -> decoded again
    assert cache.decodes == 4
    with pytest.raises(ValueError):
        VideoFrameCache(max_bytes=0)


# -------------------------------------------------------------------------------------------- splits


@settings(max_examples=60, deadline=None)
@given(
    n_patients=st.integers(2, 40),
    k=st.integers(2, 8),
    seed=st.integers(0, 10_000),
    per_patient=st.integers(1, 4),
    stratify=st.booleans(),
)
def test_patient_kfold_never_shares_a_patient(n_patients, k, seed, per_patient, stratify):
    if k > n_patients:
        with pytest.raises(ValueError):
            patient_kfold([f"p{i}" for i in range(n_patients)], k, seed)
        return
    patients = [f"p{i}" for i in range(n_patients) for _ in range(per_patient)]
    labels = [(i * 7 + j) % 4 for i in range(n_patients) for j in range(per_patient)] if stratify else None
    folds = patient_kfold(patients, k, seed, labels=labels)
    assert len(folds) == k
    all_test = []
    for train, test in folds:
        assert not set(train) & set(test)
        assert set(train) | set(test) == set(patients)
        assert len(test) in (n_patients // k, -(-n_patients // k))
        all_test.extend(test)
    assert sorted(all_test) == sorted(set(patients))  # the test folds partition the patients
    assert patient_kfold(patients, k, seed, labels=labels) == folds  # deterministic


def test_stratified_kfold_balances_max_scores():
    patients = [f"p{i}" for i in range(20)]
    labels = [i % 4 for i in range(20)]  # 5 patients per max score
    for _, test in patient_kfold(patients, 5, seed=1, labels=labels):
        assert sorted(int(p[1:]) % 4 for p in test) == [0, 1, 2, 3]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 50), frac=st.floats(0.05, 0.95), seed=st.integers(0, 1000), stratify=st.booleans())
def test_train_test_split_is_disjoint(n, frac, seed, stratify):
    patients = [f"p{i}" for i in range(n)] * 2
    labels = [i % 4 for i in range(2 * n)] if stratify else None
    train, test = patient_train_test_split(patients, frac, seed, labels=labels)
    assert not set(train) & set(test)
    assert set(train) | set(test) == set(patients)
    assert len(test) >= 1 and len(train) >= 1
    assert len(train) + len(test) == n


def test_split_arguments_and_rows_for_patients():
    with pytest.raises(ValueError):
        patient_train_test_split(["a", "b"], 1.0, 0)
    with pytest.raises(ValueError):
        patient_train_test_split(["a"], 0.5, 0)
    with pytest.raises(ValueError):
        patient_kfold(["a", "b"], 1)
    rows = [ManifestRow(patient=p, video="v", image=Path(f"{p}.png")) for p in "abcab"]
    assert [r.patient for r in rows_for_patients(rows, {"a"})] == ["a", "a"]
    assert rows_for_patients([{"patient": "x"}, {"patient": "y"}], ["y"]) == [{"patient": "y"}]
