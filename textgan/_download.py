"""Reliable plain-HTTP downloads of the authors' original files.

:func:`download_url` is what :func:`textgan.hub.download_url` runs. Its guarantees:

* **Nothing unverified enters the cache.** The body goes to ``dest + ".part"``; it is checked (length, and the
  sha256 when one is given) and only then renamed onto ``dest`` with :func:`os.replace`, which is atomic on one
  file system. ``dest`` is never a partial or unverified file.
* **Checksum sidecar.** Next to ``dest`` a ``dest + ".sha256"`` file records the digest of what was stored. A
  later call re-hashes ``dest``; if it no longer matches the sidecar (or the ``sha256`` asked for), the entry is
  treated as corrupt, deleted and fetched again.
* **Resume.** A ``.part`` left by an interrupted download is continued with an HTTP ``Range`` request; a server
  that ignores ``Range`` (``200``) or refuses it (``416``) makes the download start over.
* **Retries** with exponential backoff on HTTP 5xx/429, dropped or reset connections, bodies shorter than their
  ``Content-Length``, and timeouts; other HTTP errors (404, 403, ...) fail at once.
* **Timeouts** on connecting and on every read (a server that stalls mid-body is a failed attempt).
* **One download per file across processes**: an exclusive lock (``fcntl.flock`` on POSIX, :mod:`filelock`
  elsewhere) on a lock file in the temp folder named after ``dest``'s real path, so two processes asking for the
  same file download it once and the second finds it verified in the cache.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

from .errors import ChecksumError, PretrainedNotFoundError

__all__ = ["download_url", "sha256_file", "SIDECAR_SUFFIX"]

PathLike = Union[str, "os.PathLike[str]"]

SIDECAR_SUFFIX = ".sha256"
_CHUNK = 1 << 16  # small enough that a cut connection loses little of what arrived
_HEX64 = re.compile(r"[0-9a-f]{64}")


class _Retryable(Exception):
    """One attempt failed in a way another attempt may fix (5xx, dropped connection, timeout, short body)."""


def sha256_file(path: PathLike) -> str:
    """The hex sha256 of a file, read in 64 KiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_record(path: PathLike) -> dict:
    """``{"file": basename, "sha256": digest}``: how a converted pipeline's config.json names its source files."""
    return {"file": os.path.basename(os.fspath(path)), "sha256": sha256_file(path)}


@contextlib.contextmanager
def _file_lock(path: Path, timeout: Optional[float]) -> Iterator[None]:
    """An exclusive cross-process lock on ``path`` (created if needed), released on exit."""
    try:
        import fcntl
    except ImportError:  # not POSIX: filelock (a dependency of huggingface_hub) uses msvcrt there
        import filelock

        try:
            with filelock.FileLock(str(path), timeout=-1 if timeout is None else timeout):
                yield
        except filelock.Timeout as e:
            raise TimeoutError(f"another process holds {path} for longer than {timeout} s; if no download is "
                               f"running, delete {path}") from e
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (fcntl.LOCK_NB if deadline is not None else 0))
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:  # type: ignore[operator]
                    raise TimeoutError(f"another process holds the lock {path} for longer than {timeout} s "
                                       "(is it still downloading?)") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _lock_path(dest: Path) -> Path:
    """The lock file for ``dest``: in the temp folder, named by the hash of its real path, so the download
    folder holds only the file, its sidecar and at most a ``.part``."""
    import tempfile

    folder = Path(tempfile.gettempdir()) / f"textgan-locks-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    folder.mkdir(mode=0o700, exist_ok=True)
    key = hashlib.sha1(os.path.realpath(dest).encode("utf-8", "surrogatepass")).hexdigest()
    return folder / f"{key}.lock"


def _normalise_sha256(sha256: Optional[str]) -> Optional[str]:
    if sha256 is None:
        return None
    if not isinstance(sha256, str) or not _HEX64.fullmatch(sha256.strip().lower()):
        raise ValueError(f"sha256={sha256!r} is not a hex sha256 digest (64 characters 0-9a-f)")
    return sha256.strip().lower()


def _read_sidecar(path: Path) -> Optional[str]:
    try:
        text = path.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return None
    return text[0].lower() if text and _HEX64.fullmatch(text[0].lower()) else None


def _write_sidecar(path: Path, digest: str, name: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{digest}  {name}\n", encoding="ascii")
    os.replace(tmp, path)


def _cached(dest: Path, sidecar: Path, expected: Optional[str]) -> bool:
    """True if ``dest`` is a verified cache entry; a corrupt or unverifiable one is deleted."""
    if not dest.is_file():
        return False
    recorded = _read_sidecar(sidecar)
    want = expected or recorded
    if want is not None and sha256_file(dest) == want:
        if recorded != want:
            _write_sidecar(sidecar, want, dest.name)
        return True
    # No digest to compare with, or a mismatch (bit rot, a partial copy, tampering): fetch it again.
    dest.unlink(missing_ok=True)
    sidecar.unlink(missing_ok=True)
    return False


def download_url(
    url: str,
    dest: PathLike,
    *,
    sha256: Optional[str] = None,
    timeout: float = 60.0,
    retries: int = 4,
    backoff: float = 1.0,
    resume: bool = True,
    lock_timeout: Optional[float] = None,
    _sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Download ``url`` to ``dest`` unless a verified copy is already there (module docstring).

    Args:
        url: an ``http://`` or ``https://`` URL.
        dest: the destination file; its folder is created if needed.
        sha256: expected hex digest; checked before the file is stored, and against the cached file.
        timeout: seconds to wait for the connection and for each read.
        retries: further attempts after the first for retryable failures (5xx, 429, dropped connections,
            short bodies, timeouts).
        backoff: seconds before the first retry, doubled for each next one (capped at 60 s).
        resume: continue a ``.part`` left by an interrupted attempt or process with an HTTP ``Range`` request.
        lock_timeout: seconds to wait for another process downloading the same ``dest``; None waits.

    Returns:
        ``dest`` as a Path.

    Raises:
        PretrainedNotFoundError: HTTP error status, or network failure / timeout after every retry (the url
            and the last error named).
        ChecksumError: the downloaded bytes do not have the ``sha256`` asked for (nothing is stored).
        ValueError: a malformed argument (URL scheme, sha256, timeout, retries).
        IsADirectoryError: ``dest`` is a folder (pass the file's path).
        TimeoutError: ``lock_timeout`` passed while another process held the lock.
    """
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"url={url!r}: download_url only fetches http:// or https:// URLs")
    expected = _normalise_sha256(sha256)
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout={timeout!r} must be a positive number of seconds")
    if not (isinstance(retries, int) and retries >= 0):
        raise ValueError(f"retries={retries!r} must be an integer >= 0")
    dest = Path(dest)
    if dest.is_dir():
        raise IsADirectoryError(f"dest={str(dest)!r} is a directory: pass the file path to download to")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    sidecar = dest.with_name(dest.name + SIDECAR_SUFFIX)

    with _file_lock(_lock_path(dest), lock_timeout):
        # Checked under the lock: another process may just have stored it.
        if _cached(dest, sidecar, expected):
            return dest
        if not resume:
            part.unlink(missing_ok=True)
        resumed_from_old_part = part.exists() and part.stat().st_size > 0
        last: Optional[BaseException] = None
        for attempt in range(retries + 1):
            if attempt:
                _sleep(min(60.0, backoff * 2 ** (attempt - 1)))
            try:
                _attempt(url, part, timeout)
            except _Retryable as e:
                last = e.__cause__ or e
                continue
            except BaseException:
                # Not retryable (4xx, KeyboardInterrupt, disk full): keep nothing half-written but the .part,
                # which a later call resumes; a 4xx answer means the .part is useless.
                raise
            actual = sha256_file(part)
            if expected is not None and actual != expected:
                part.unlink(missing_ok=True)
                if resumed_from_old_part:
                    # The old .part may come from another version of the file: once more, from scratch.
                    resumed_from_old_part = False
                    continue
                raise ChecksumError(
                    f"sha256 mismatch for {url}: expected {expected}, got {actual}; the file is corrupt or was "
                    "replaced upstream, so it was not kept"
                )
            os.replace(part, dest)
            _write_sidecar(sidecar, actual, dest.name)
            return dest
        if expected is not None and last is None:  # every attempt ended in a checksum retry
            raise ChecksumError(f"sha256 mismatch for {url}: expected {expected}; the file was not kept")
        kind = "timed out" if _is_timeout(last) else "failed"
        raise PretrainedNotFoundError(
            f"could not download {url}: {retries + 1} attempts {kind}, the last with {type(last).__name__}: "
            f"{str(last).splitlines()[0] if str(last) else ''}. "
            + (f"The partial download {part} is kept and the next call resumes it. " if part.exists() else "")
            + "Check the network, or download the file by hand and pass the local path instead"
        ) from last


def _is_timeout(e: Optional[BaseException]) -> bool:
    import requests

    return isinstance(e, (requests.Timeout, TimeoutError)) or "timed out" in str(e).lower()


def _attempt(url: str, part: Path, timeout: float) -> None:
    """One GET, appending to ``part`` from its current size; raises _Retryable for transient failures."""
    import requests

    offset = part.stat().st_size if part.exists() else 0
    headers = {"Accept-Encoding": "identity"}  # byte ranges and Content-Length refer to the raw file
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        with requests.get(url, stream=True, timeout=(timeout, timeout), headers=headers) as response:
            status = response.status_code
            if status == 416 and offset:  # the range is past the end: the .part is bad, start over
                part.unlink(missing_ok=True)
                raise _Retryable(f"HTTP 416 for the range from {offset}")
            if status >= 500 or status == 429:
                raise _Retryable(f"HTTP {status} {response.reason}")
            if status >= 400:
                part.unlink(missing_ok=True)
                raise PretrainedNotFoundError(
                    f"could not download {url}: HTTP {status} {response.reason}; the file may have moved: "
                    "download it by hand and pass the local path instead"
                )
            mode = "wb"
            if status == 206 and offset:
                start = _range_start(response.headers.get("Content-Range", ""))
                if start != offset:
                    part.unlink(missing_ok=True)
                    raise _Retryable(f"the server answered the range from {offset} with "
                                     f"{response.headers.get('Content-Range')!r}")
                mode = "ab"
            length = response.headers.get("Content-Length")
            received = 0
            with open(part, mode) as f:
                for chunk in response.iter_content(chunk_size=_CHUNK):
                    f.write(chunk)
                    received += len(chunk)
            if length is not None and length.isdigit() and received != int(length):
                raise _Retryable(f"the body ended after {received} of {length} bytes")
    except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError, ConnectionError, TimeoutError) as e:
        raise _Retryable(str(e)) from e
    except requests.RequestException as e:  # an invalid URL and the like: no point retrying
        raise PretrainedNotFoundError(f"could not download {url}: {e}") from e


def _range_start(content_range: str) -> Optional[int]:
    m = re.match(r"\s*bytes\s+(\d+)-\d+/(\d+|\*)", content_range)
    return int(m.group(1)) if m else None
