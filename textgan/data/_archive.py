"""Safe extraction of the datasets' .tar/.tgz/.tar.gz/.zip archives.

``tarfile.extractall`` and ``zipfile.extractall`` trust member names, so a crafted archive can write outside
the destination (absolute names, ``..``, symbolic links pointing out of the tree and files written through
them) or create device nodes. :func:`safe_extract` validates *every* member first and extracts nothing when
one is refused; only then does it write, one member at a time, without ever following a link it did not
just check.

Policy (stricter than needed for the dataset archives, which hold only folders and regular files):

* names: relative, no ``..`` component, no drive letter, ``\\`` counted as a separator;
* symbolic links: relative target, lexically inside the tree, and no path (member or link target) may pass
  *through* a link of the archive, so the lexical check is also the real one;
* hard links: to an earlier regular-file member (written as a copy);
* devices, FIFOs and sockets: refused.
"""
from __future__ import annotations

import errno
import gzip
import lzma
import os
import posixpath
import shutil
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Union

from ..errors import UnsafeArchiveError

__all__ = ["safe_extract", "archive_kind"]

PathLike = Union[str, "os.PathLike[str]"]

_TAR_SUFFIXES = (".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


@dataclass
class _Member:
    name: str  # normalised, relative, "/"-separated
    kind: str  # "dir" | "file" | "symlink" | "hardlink"
    target: Optional[str] = None  # normalised link target (archive-relative for both link kinds)
    ref: object = None  # TarInfo or ZipInfo
    mode: int = 0o644


def archive_kind(path: PathLike) -> str:
    """``"tar"`` or ``"zip"`` from the file's suffix, else from its content; raises UnsafeArchiveError if neither."""
    name = os.fspath(path).lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(_TAR_SUFFIXES):
        return "tar"
    if zipfile.is_zipfile(path):
        return "zip"
    if tarfile.is_tarfile(path):
        return "tar"
    raise UnsafeArchiveError(f"{os.fspath(path)}: not a .tar, .tgz, .tar.gz or .zip archive")


def _normalise(archive: str, raw: str) -> str:
    """A member name as a safe relative posix path, or raise naming the member."""
    name = raw.replace("\\", "/")
    if not name or "\x00" in name:
        raise UnsafeArchiveError(f"{archive}: member {raw!r} has an empty or NUL-containing name; nothing extracted")
    if name.startswith("/") or (len(name) >= 2 and name[1] == ":"):
        raise UnsafeArchiveError(f"{archive}: member {raw!r} has an absolute path; nothing extracted")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"{archive}: member {raw!r} contains '..' (path traversal); nothing extracted")
    return "/".join(parts)


def _link_target(archive: str, member: str, raw_target: str, *, symbolic: bool) -> str:
    """The archive-relative target of a link, refusing targets outside the tree."""
    target = raw_target.replace("\\", "/")
    if not target or target.startswith("/") or (len(target) >= 2 and target[1] == ":"):
        raise UnsafeArchiveError(
            f"{archive}: link member {member!r} points to {raw_target!r}, outside the destination; nothing extracted")
    joined = posixpath.join(posixpath.dirname(member), target) if symbolic else target
    norm = posixpath.normpath(joined)
    if norm == ".." or norm.startswith("../"):
        raise UnsafeArchiveError(
            f"{archive}: link member {member!r} points to {raw_target!r}, outside the destination; nothing extracted")
    return "" if norm == "." else norm


def _tar_members(archive: str, tf: tarfile.TarFile) -> List[_Member]:
    out = []
    for info in tf.getmembers():
        name = _normalise(archive, info.name)
        if info.isdir():
            out.append(_Member(name, "dir", ref=info, mode=info.mode))
        elif info.isreg():
            out.append(_Member(name, "file", ref=info, mode=info.mode))
        elif info.issym():
            out.append(_Member(name, "symlink", _link_target(archive, name, info.linkname, symbolic=True), info))
        elif info.islnk():
            out.append(_Member(name, "hardlink", _link_target(archive, name, info.linkname, symbolic=False), info))
        else:
            what = "a FIFO" if info.isfifo() else "a device" if info.isdev() else "a special file"
            raise UnsafeArchiveError(f"{archive}: member {info.name!r} is {what}; nothing extracted")
    return out


def _zip_members(archive: str, zf: zipfile.ZipFile) -> List[_Member]:
    out = []
    for info in zf.infolist():
        name = _normalise(archive, info.filename)
        mode = (info.external_attr >> 16) & 0xFFFF
        if info.is_dir() or stat.S_ISDIR(mode):
            out.append(_Member(name, "dir", ref=info))
        elif stat.S_ISLNK(mode):
            raw = zf.read(info).decode("utf-8", "surrogateescape")
            out.append(_Member(name, "symlink", _link_target(archive, name, raw, symbolic=True), info))
        elif mode and not stat.S_ISREG(mode) and stat.S_IFMT(mode):
            raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is a device, FIFO or socket; "
                                     "nothing extracted")
        else:
            out.append(_Member(name, "file", ref=info, mode=(mode & 0o777) or 0o644))
    return out


def _check_no_link_traversal(archive: str, members: List[_Member]) -> None:
    """Refuse any member path or link target that goes through a symbolic link of the archive."""
    links = {m.name for m in members if m.kind == "symlink"}
    if not links:
        return
    for m in members:
        paths = [m.name] + ([m.target] if m.kind == "symlink" and m.target else [])
        for i, path in enumerate(paths):
            parts = path.split("/")
            # the final component of a member may be a link (it is the link itself); of a target too
            for k in range(1, len(parts)):
                prefix = "/".join(parts[:k])
                if prefix in links:
                    what = "is written through" if i == 0 else "points through"
                    raise UnsafeArchiveError(
                        f"{archive}: member {m.name!r} {what} the symbolic link {prefix!r}; nothing extracted")


def _validate(archive: str, members: List[_Member]) -> None:
    _check_no_link_traversal(archive, members)
    regular = set()
    for m in members:
        if m.kind == "hardlink" and m.target not in regular:
            raise UnsafeArchiveError(
                f"{archive}: hard link {m.name!r} points to {m.target!r}, which is not an earlier regular file "
                "of the archive; nothing extracted")
        if m.kind == "file":
            regular.add(m.name)
        elif m.name in regular:
            regular.discard(m.name)


def _inside(root: str, path: str) -> bool:
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def safe_extract(archive: PathLike, dest: PathLike) -> List[Path]:
    """Extract a .tar/.tgz/.tar.gz (or other compressed tar) or .zip archive into ``dest``, safely.

    Every member is validated before anything is written; see the module docstring for the policy.

    Args:
        archive: the archive file.
        dest: the destination folder (created if needed).

    Returns:
        The extracted paths (folders, files and links), in archive order.

    Raises:
        UnsafeArchiveError: a member is absolute, contains ``..``, is a link pointing out of the tree (or a path
            through a link), a device/FIFO, or the file is not a supported archive; the message names the archive
            and the member, and nothing was extracted.
        FileNotFoundError: ``archive`` does not exist.
    """
    archive_s = os.fspath(archive)
    if not os.path.isfile(archive_s):
        raise FileNotFoundError(f"{archive_s}: archive not found")
    kind = archive_kind(archive_s)
    dest_p = Path(dest)
    try:
        if kind == "tar":
            with tarfile.open(archive_s, "r:*") as tf:
                members = _tar_members(archive_s, tf)
                _validate(archive_s, members)
                return _write(archive_s, dest_p, members, tf.extractfile)
        with zipfile.ZipFile(archive_s) as zf:
            members = _zip_members(archive_s, zf)
            _validate(archive_s, members)
            return _write(archive_s, dest_p, members, zf.open)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, NotImplementedError,
            OSError) as e:
        # OSError: gzip's BadGzipFile, bz2's invalid data, a seek to a corrupt offset; but not a failure to
        # write the destination (it names the file) or a full disk, which are no fault of the archive
        if isinstance(e, OSError) and not isinstance(e, gzip.BadGzipFile) and (
                e.filename is not None or e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS)):
            raise
        raise UnsafeArchiveError(f"{archive_s}: corrupt or truncated archive ({type(e).__name__}: {e}); "
                                 "download it again") from e


def _write(archive: str, dest: Path, members: List[_Member], opener) -> List[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    root = os.path.realpath(dest)
    written: List[Path] = []
    for m in members:
        if not m.name:  # the archive's "." entry
            continue
        path = dest / m.name
        # belt and braces against links already on disk (from an earlier extraction) under dest
        if not _inside(root, str(path.parent)):
            raise UnsafeArchiveError(f"{archive}: member {m.name!r} would be written outside {dest} through an "
                                     "existing link; extraction stopped")
        if m.kind == "dir":
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink() or (path.exists() and not path.is_dir()):
                path.unlink()
            if m.kind == "file":
                src = opener(m.ref)
                with src, open(path, "wb") as f:
                    shutil.copyfileobj(src, f, 1 << 20)
                os.chmod(path, (m.mode & 0o755) | 0o600)  # no setuid/setgid/sticky, always owner-writable
            elif m.kind == "hardlink":
                shutil.copyfile(dest / m.target, path)
            else:  # symlink, relative, validated to stay inside
                os.symlink(posixpath.relpath(m.target or ".", posixpath.dirname(m.name) or "."), path)
        written.append(path)
    return written
