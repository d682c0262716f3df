"""Frame loading: a bounded LRU cache of decoded videos and the :class:`FrameDataset`.

Videos are decoded *once* (sequentially, with OpenCV), converted to grayscale, resized / padded to the
dataset's size and kept in memory as a ``(T, h, w)`` uint8 array, so that reading frame ``i`` of an mp4 in
a training loop is an array lookup rather than a seek-and-decode from the start.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from .manifest import ManifestRow
from .transforms import LUSAugment, PadInfo, resize_pad, to_grayscale, to_tensor
from .video_io import decode_video

__all__ = ["FrameDataset", "VideoFrameCache", "read_image"]


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as ``(H, W)`` uint8 grayscale.

    Raises:
        FileNotFoundError: if the file is missing or OpenCV cannot decode it.
    """
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return to_grayscale(img)


class VideoFrameCache:
    """Bounded LRU cache of decoded videos (``(T, h, w)`` uint8), keyed by ``(path, size)``.

    Args:
        max_bytes: evict least-recently-used videos beyond this many bytes (the most recent video is always
            kept even if larger).

    Thread-safe. Each DataLoader worker process holds its own copy.

    Raises:
        ValueError: if ``max_bytes`` is not positive.
    """

    def __init__(self, max_bytes: int = 2 * 1024**3) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self._data: OrderedDict[tuple[str, tuple[int, int] | None], tuple[np.ndarray, PadInfo | None]] = (
            OrderedDict()
        )
        self._bytes = 0
        self._lock = threading.Lock()
        self.decodes = 0  # number of actual decodes (for tests / stats)

    def __len__(self) -> int:
        return len(self._data)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def video(
        self, path: str | Path, size: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, PadInfo | None]:
        """All frames of ``path`` (decoded on first use) and the :class:`PadInfo` (``None`` if no ``size``)."""
        key = (str(Path(path)), None if size is None else (int(size[0]), int(size[1])))
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
                return hit
        frames, info = decode_video(path, key[1])
        with self._lock:
            if key not in self._data:
                self.decodes += 1
                self._data[key] = (frames, info)
                self._bytes += frames.nbytes
                while self._bytes > self.max_bytes and len(self._data) > 1:
                    _, (old, _) = self._data.popitem(last=False)
                    self._bytes -= old.nbytes
            return self._data[key]

    def frame(self, path: str | Path, index: int, size: tuple[int, int] | None = None) -> np.ndarray:
        """Frame ``index`` (``(h, w)`` uint8) of ``path``.

        Raises:
            IndexError: if the video has fewer frames.
        """
        frames, _ = self.video(path, size)
        if not 0 <= index < len(frames):
            raise IndexError(f"frame {index} out of range: {path} has {len(frames)} frames")
        return frames[index]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0


class FrameDataset(Dataset):
    """Frames of a manifest as model inputs.

    Args:
        rows: manifest rows (:func:`ml.data.read_manifest`).
        size: model input size ``(H, W)``; frames are :func:`resize_pad`-ed (aspect kept, zero padding).
        augment: ``True`` for the default :class:`LUSAugment`, a callable on ``(1, H, W)`` tensors, or
            ``False``/``None``.
        cache: shared :class:`VideoFrameCache` (a private one by default).

    ``dataset[i] -> (frame (1, H, W) float32 in [-1, 1], label int)``; ``label`` is ``-1`` for unlabelled rows.

    Raises:
        ValueError: on an empty ``size`` / non-positive sizes.
    """

    def __init__(
        self,
        rows: Sequence[ManifestRow],
        *,
        size: tuple[int, int] = (224, 224),
        augment: bool | Callable[[torch.Tensor], torch.Tensor] | None = False,
        cache: VideoFrameCache | None = None,
    ) -> None:
        if len(size) != 2 or int(size[0]) <= 0 or int(size[1]) <= 0:
            raise ValueError(f"size must be two positive ints (H, W), got {size}")
        self.rows = list(rows)
        self.size = (int(size[0]), int(size[1]))
        if augment is True:
            self.augment: Callable[[torch.Tensor], torch.Tensor] | None = LUSAugment()
        elif augment:
            self.augment = augment
        else:
            self.augment = None
        self.cache = cache if cache is not None else VideoFrameCache()

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def labels(self) -> list[int]:
        """Per-row labels (``-1`` where unlabelled)."""
        return [-1 if r.score is None else r.score for r in self.rows]

    def load_uint8(self, index: int) -> tuple[np.ndarray, PadInfo]:
        """The resized / padded ``(H, W)`` uint8 frame of row ``index`` and its :class:`PadInfo`."""
        row = self.rows[index]
        if row.image is not None:
            return resize_pad(read_image(row.image), self.size)
        frames, info = self.cache.video(row.video_path, self.size)  # type: ignore[arg-type]
        if not 0 <= row.frame < len(frames):  # type: ignore[operator]
            raise IndexError(f"frame {row.frame} out of range: {row.video_path} has {len(frames)} frames")
        assert info is not None
        return frames[row.frame], info  # type: ignore[index]

    def pad_info(self, index: int) -> PadInfo:
        """How row ``index``'s original frame maps into the model input (for crop boxes)."""
        return self.load_uint8(index)[1]

    def preload(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Decode every video referenced by the rows now (e.g. before timing an epoch)."""
        videos = sorted({str(r.video_path) for r in self.rows if r.video_path is not None})
        for i, v in enumerate(videos):
            self.cache.video(v, self.size)
            if progress is not None:
                progress(i + 1, len(videos))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        frame, _ = self.load_uint8(index)
        x = to_tensor(frame)
        if self.augment is not None:
            x = self.augment(x)
        score = self.rows[index].score
        return x, -1 if score is None else int(score)
