"""Fault injection for textgan's plain downloads (textgan._download.download_url via textgan.hub.download_url).

Each test serves a file from a loopback server (fault_server.py) that misbehaves in one way, then checks the
outcome: a successful retry or resume, or the documented error -- and in every case that ``dest`` is either
absent or the complete, verified file (no corrupt cache entry).
"""
import hashlib
import multiprocessing
import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fault_server import FaultServer  # noqa: E402

from textgan._download import SIDECAR_SUFFIX, download_url  # noqa: E402
from textgan.errors import ChecksumError, PretrainedNotFoundError  # noqa: E402
from textgan.hub import download_url as hub_download_url  # noqa: E402

DATA = os.urandom(200_000)
SHA = hashlib.sha256(DATA).hexdigest()
FAST = dict(backoff=0.01, timeout=5.0)  # tests do not wait for real backoff


@pytest.fixture
def server():
    with FaultServer() as s:
        s.files["w.pth"] = DATA
        yield s


def _assert_clean(dest: Path, stored: bool) -> None:
    """``dest`` is the verified file with its sidecar, or absent; never a partial or wrong file."""
    if stored:
        assert dest.read_bytes() == DATA
        assert dest.with_name(dest.name + SIDECAR_SUFFIX).read_text().split()[0] == SHA
    else:
        assert not dest.exists()


def test_connection_reset_mid_body_resumes_with_range(server, tmp_path):
    server.faults["w.pth"] = ["reset"]
    dest = tmp_path / "w.pth"
    assert download_url(server.url("w.pth"), dest, sha256=SHA, **FAST) == dest
    _assert_clean(dest, True)
    gets = server.gets("w.pth")
    assert gets[0] == (None, 200) and len(gets) == 2
    rng, status = gets[1]
    assert status == 206 and rng.startswith("bytes=") and int(rng[6:-1]) > 0  # resumed where the cut left it
    assert not dest.with_name("w.pth.part").exists()


def test_truncated_body_with_correct_content_length_is_retried(server, tmp_path):
    server.faults["w.pth"] = ["truncate"]
    dest = tmp_path / "w.pth"
    download_url(server.url("w.pth"), dest, sha256=SHA, **FAST)
    _assert_clean(dest, True)
    assert len(server.gets("w.pth")) == 2


def test_always_truncated_gives_an_error_and_no_cache_entry(server, tmp_path):
    server.faults["w.pth"] = ["truncate"] * 3
    dest = tmp_path / "w.pth"
    with pytest.raises(PretrainedNotFoundError, match=r"3 attempts failed.*resumes it"):
        download_url(server.url("w.pth"), dest, sha256=SHA, retries=2, **FAST)
    _assert_clean(dest, False)
    assert dest.with_name("w.pth.part").stat().st_size < len(DATA)  # kept for resuming
    download_url(server.url("w.pth"), dest, sha256=SHA, **FAST)  # the next call resumes and completes
    _assert_clean(dest, True)
    assert server.gets("w.pth")[-1][1] == 206


def test_500_then_200_is_retried_with_backoff(server, tmp_path):
    server.faults["w.pth"] = ["500", "503"]
    waits = []
    dest = tmp_path / "w.pth"
    download_url(server.url("w.pth"), dest, sha256=SHA, backoff=0.5, _sleep=waits.append)
    _assert_clean(dest, True)
    assert [s for _, s in server.gets("w.pth")] == [500, 503, 200]
    assert waits == [0.5, 1.0]  # exponential


def test_persistent_500_fails_after_the_retries(server, tmp_path):
    server.faults["w.pth"] = ["500"] * 10
    dest = tmp_path / "w.pth"
    with pytest.raises(PretrainedNotFoundError, match=r"could not download .*w\.pth: 3 attempts failed"):
        download_url(server.url("w.pth"), dest, retries=2, **FAST)
    assert len(server.gets("w.pth")) == 3
    _assert_clean(dest, False)


def test_404_is_not_retried(server, tmp_path):
    with pytest.raises(PretrainedNotFoundError, match="HTTP 404"):
        download_url(server.url("missing.pth"), tmp_path / "m.pth", **FAST)
    assert len(server.gets("missing.pth")) == 1
    assert list(tmp_path.iterdir()) == []


def test_slow_server_past_the_timeout(server, tmp_path):
    server.stall = 3.0
    server.faults["w.pth"] = ["slow"]
    dest = tmp_path / "w.pth"
    start = time.monotonic()
    download_url(server.url("w.pth"), dest, sha256=SHA, timeout=0.5, backoff=0.01)  # one timeout, then fine
    assert time.monotonic() - start < 2.5
    _assert_clean(dest, True)
    server.faults["w.pth"] = ["slow"] * 2
    dest2 = tmp_path / "w2.pth"
    with pytest.raises(PretrainedNotFoundError, match="2 attempts timed out"):
        download_url(server.url("w.pth"), dest2, sha256=SHA, timeout=0.5, retries=1, backoff=0.01)
    _assert_clean(dest2, False)


def test_wrong_checksum_stores_nothing(server, tmp_path):
    dest = tmp_path / "w.pth"
    wrong = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(ChecksumError) as info:
        hub_download_url(server.url("w.pth"), dest, sha256=wrong)
    assert wrong in str(info.value) and SHA in str(info.value) and server.url("w.pth") in str(info.value)
    assert list(tmp_path.iterdir()) == []
    server.faults["w.pth"] = ["wrong"]  # the server sends other bytes: refused too
    with pytest.raises(ChecksumError):
        download_url(server.url("w.pth"), dest, sha256=SHA, **FAST)
    assert list(tmp_path.iterdir()) == []


def test_corrupted_cache_entry_is_detected_and_fetched_again(server, tmp_path):
    dest = tmp_path / "w.pth"
    download_url(server.url("w.pth"), dest, **FAST)  # no digest given: the sidecar records it
    _assert_clean(dest, True)
    download_url(server.url("w.pth"), dest, **FAST)
    assert len(server.gets("w.pth")) == 1  # verified cache hit, no request
    with open(dest, "r+b") as f:  # bit rot
        f.seek(1234)
        f.write(b"\x00\x01")
    download_url(server.url("w.pth"), dest, **FAST)
    assert len(server.gets("w.pth")) == 2
    _assert_clean(dest, True)
    dest.write_bytes(DATA[:100])  # a partial copy with the sidecar of the full file
    download_url(server.url("w.pth"), dest, sha256=SHA, **FAST)
    _assert_clean(dest, True)
    assert len(server.gets("w.pth")) == 3


def test_stale_part_from_another_version_is_dropped(server, tmp_path):
    dest = tmp_path / "w.pth"
    dest.with_name("w.pth.part").write_bytes(b"\xff" * 5000)  # not a prefix of the file
    download_url(server.url("w.pth"), dest, sha256=SHA, **FAST)
    _assert_clean(dest, True)
    assert [s for _, s in server.gets("w.pth")] == [206, 200]  # resumed, mismatch, once more from scratch


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    dest = tmp_path / "w.pth"
    dest.with_name("w.pth.part").write_bytes(DATA[:7000])
    server.faults["w.pth"] = ["norange"]
    download_url(server.url("w.pth"), dest, sha256=SHA, **FAST)
    _assert_clean(dest, True)
    assert server.gets("w.pth") == [("bytes=7000-", 200)]


def test_part_longer_than_the_file_gets_416_and_restarts(server, tmp_path):
    dest = tmp_path / "w.pth"
    dest.with_name("w.pth.part").write_bytes(DATA + b"extra")
    download_url(server.url("w.pth"), dest, sha256=SHA, **FAST)
    _assert_clean(dest, True)
    assert [s for _, s in server.gets("w.pth")] == [416, 200]


def _worker(url, dest, sha, queue):
    try:
        download_url(url, dest, sha256=sha, backoff=0.01, timeout=10.0)
        queue.put(("ok", hashlib.sha256(Path(dest).read_bytes()).hexdigest()))
    except BaseException as e:  # report, never hang the parent
        queue.put(("error", f"{type(e).__name__}: {e}"))


@pytest.mark.skipif(sys.platform == "win32", reason="uses the fork start method")
@pytest.mark.parametrize("with_sha", [True, False], ids=["sha256", "no_sha256"])
def test_two_processes_at_once_download_once(server, tmp_path, with_sha):
    server.faults["w.pth"] = ["trickle"]  # the first download takes ~0.4 s, so the two overlap
    dest = tmp_path / "w.pth"
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(server.url("w.pth"), str(dest), SHA if with_sha else None, queue))
             for _ in range(2)]
    for p in procs:
        p.start()
    seen_partial = False
    while any(p.is_alive() for p in procs):  # meanwhile dest is absent or complete, never partial
        if dest.exists():
            try:
                seen_partial |= dest.read_bytes() != DATA
            except FileNotFoundError:
                pass
        time.sleep(0.01)
    for p in procs:
        p.join(30)
    results = [queue.get(timeout=5) for _ in procs]
    assert results == [("ok", SHA), ("ok", SHA)], results
    assert not seen_partial
    assert len(server.gets("w.pth")) == 1  # the second process found the verified file under the lock
    _assert_clean(dest, True)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="http"):
        download_url("file:///etc/passwd", tmp_path / "x")
    with pytest.raises(ValueError, match="sha256"):
        download_url("http://127.0.0.1:1/x", tmp_path / "x", sha256="abc")
    with pytest.raises(ValueError, match="timeout"):
        download_url("http://127.0.0.1:1/x", tmp_path / "x", timeout=0)
    with pytest.raises(IsADirectoryError, match="directory"):
        download_url("http://127.0.0.1:1/x", tmp_path)


def test_unreachable_host_fails_after_retries(tmp_path):
    with socket_closed_port() as port:
        with pytest.raises(PretrainedNotFoundError, match="2 attempts failed"):
            download_url(f"http://127.0.0.1:{port}/x", tmp_path / "x", retries=1, backoff=0.01, timeout=2)
    assert list(tmp_path.iterdir()) == []


class socket_closed_port:  # noqa: N801 - a tiny context manager
    """A loopback port with nothing listening (bound then closed)."""

    def __enter__(self):
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        return self.port

    def __exit__(self, *exc):
        return False
