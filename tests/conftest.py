"""Shared fixtures. Hub fixtures: a loopback Hub server and the environment pointing huggingface_hub at it."""
import os
import sys

import pytest
import torch

# One intra-op thread: the suite's models are small, and OpenMP threads spinning on a busy 2-core machine made
# small convolutions up to 100x slower. TEXTGAN_TEST_THREADS overrides.
_TEST_THREADS = int(os.environ.get("TEXTGAN_TEST_THREADS", "1"))
torch.set_num_threads(_TEST_THREADS)


@pytest.fixture(autouse=True)
def _restore_thread_count():
    """Tests that change torch's thread count (to match a fixture's, or to test threading) do not leak it."""
    yield
    if torch.get_num_threads() != _TEST_THREADS:
        torch.set_num_threads(_TEST_THREADS)

sys.path.insert(0, os.path.dirname(__file__))  # so tests can `from hub_server import FakeHub`

from hub_server import FakeHub  # noqa: E402


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """A :class:`hub_server.FakeHub` on 127.0.0.1, with HF_ENDPOINT pointing at it and a fresh HF_HUB_CACHE.

    HF_TOKEN is set to a dummy so no real token of the machine running the tests is read or sent, and
    HF_HUB_OFFLINE is cleared.
    """
    with FakeHub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
        monkeypatch.setenv("HF_XET_CACHE", str(tmp_path / "xet"))
        monkeypatch.setenv("HF_TOKEN", "hf_loopback_test_token")
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield hub
