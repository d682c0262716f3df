"""Fixtures shared by the ml tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def two_threads():
    """Torch on two threads (the CPU budget the issues measure with), restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)
