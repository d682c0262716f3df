"""Decoding ultrasound files into frames, without touching the database.

The database side lives in `studies.services`; everything here is safe to run in a worker thread.
"""

from .decode import DecodedVideo, FrameSource, open_frame_source
from .errors import IngestError
from .sniff import detect_format
from .store import decode_to_storage, delete_stored

__all__ = [
    "DecodedVideo",
    "FrameSource",
    "IngestError",
    "decode_to_storage",
    "delete_stored",
    "detect_format",
    "open_frame_source",
]
