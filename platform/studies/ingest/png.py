"""Fast lossless PNG encoding of 8-bit frames.

OpenCV's PNG writer spends ~4 ms per 350×350 frame in zlib; building the PNG here with the
"sub" filter vectorised in numpy and DEFLATE from ISA-L (python-isal, same format) takes ~0.7 ms,
which is what lets a whole dataset import in under a minute on two cores. Output is a standard PNG
any decoder reads, bit-exact to the input.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from isal import isal_zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SUB_FILTER = 1
COLOUR_TYPE = {1: 0, 3: 2}  # channels -> PNG colour type (grey, RGB)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(image: np.ndarray, *, bgr: bool = True) -> bytes:
    """PNG bytes of an (H, W) grey or (H, W, 3) uint8 image (BGR unless `bgr=False`)."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"expected (H, W) or (H, W, 3) uint8, got {image.shape} {image.dtype}")
    if image.ndim == 3 and bgr:
        image = image[..., ::-1]
    height, width = image.shape[:2]
    channels = 1 if image.ndim == 2 else 3
    rows = image.reshape(height, width * channels)
    filtered = np.empty((height, width * channels + 1), dtype=np.uint8)
    filtered[:, 0] = SUB_FILTER
    filtered[:, 1:channels + 1] = rows[:, :channels]
    np.subtract(rows[:, channels:], rows[:, :-channels], out=filtered[:, channels + 1:])  # wraps mod 256
    header = struct.pack(">IIBBBBB", width, height, 8, COLOUR_TYPE[channels], 0, 0, 0)
    return b"".join((PNG_SIGNATURE, _chunk(b"IHDR", header),
                     _chunk(b"IDAT", isal_zlib.compress(filtered.tobytes(), 2)), _chunk(b"IEND", b"")))
