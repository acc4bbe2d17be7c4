"""Every archive traversal trick against textgan.data._archive.safe_extract, in tar and zip form.

For each refused archive: an UnsafeArchiveError naming the archive and the member, *nothing* extracted (the
bad member comes last, after good ones, so validation must precede writing), and nothing written outside the
destination (a sentinel folder next to it stays empty). tests/data/test_download.py has the loader's own
cases; this file is the systematic list behind docs/security.md.
"""
import io
import os
import stat
import tarfile
import zipfile

import pytest

from textgan.data._archive import safe_extract
from textgan.errors import UnsafeArchiveError


def _tar(members, mode="w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=tarfile.GNU_FORMAT) as tf:
        for m in members:
            info = tarfile.TarInfo(m[0])
            kind = m[1]
            if kind == "file":
                info.size = len(m[2])
                info.mode = m[3] if len(m) > 3 else 0o644
                tf.addfile(info, io.BytesIO(m[2]))
                continue
            info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE,
                         "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE, "dir": tarfile.DIRTYPE}[kind]
            info.linkname = m[2] if len(m) > 2 else ""
            tf.addfile(info)
    return buf.getvalue()


def _zip(members) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for m in members:
            info = zipfile.ZipInfo(m[0])
            kind = m[1]
            if kind == "file":
                zf.writestr(info, m[2])
            elif kind == "symlink":
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, m[2])
            else:
                info.external_attr = ({"fifo": stat.S_IFIFO, "chr": stat.S_IFCHR, "blk": stat.S_IFBLK}[kind]
                                      | 0o644) << 16
                zf.writestr(info, b"")
    return buf.getvalue()


GOOD = [("data/ok.txt", "file", b"fine")]

TRICKS = {
    "absolute": ([("/tmp/textgan-evil", "file", b"x")], "absolute"),
    "absolute_nested": ([("//etc/evil", "file", b"x")], "absolute"),
    "drive_letter": ([("C:/evil", "file", b"x")], "absolute"),
    "dotdot": ([("../evil", "file", b"x")], r"'\.\.'"),
    "dotdot_nested": ([("data/a/../../../evil", "file", b"x")], r"'\.\.'"),
    "dot_then_dotdot": ([("./../evil", "file", b"x")], r"'\.\.'"),
    "backslash_dotdot": ([("..\\evil", "file", b"x")], r"'\.\.'"),
    "symlink_relative_out": ([("data/l", "symlink", "../../outside")], "outside the destination"),
    "symlink_absolute": ([("data/l", "symlink", "/etc/passwd")], "outside the destination"),
    "symlink_then_write_through": ([("data/l", "symlink", "."), ("data/l/x", "file", b"x")],
                                   "through the symbolic link"),
    "symlink_chain_escape": ([("r", "symlink", "."), ("p", "symlink", "r/.."), ("p/evil", "file", b"x")],
                             "through the symbolic link"),
    "symlink_to_dir_then_file": ([("d", "symlink", "data"), ("d/evil", "file", b"x")], "through"),
}
TAR_ONLY = {
    "hardlink_out": ([("data/h", "hardlink", "../../etc/passwd")], "outside the destination"),
    "hardlink_absolute": ([("data/h", "hardlink", "/etc/passwd")], "outside the destination"),
    "hardlink_to_missing": ([("data/h", "hardlink", "data/nothing")], "not an earlier regular file"),
    "hardlink_to_symlink": ([("data/s", "symlink", "ok.txt"), ("data/h", "hardlink", "data/s")],
                            "not an earlier regular file"),
    "fifo": ([("data/f", "fifo")], "FIFO"),
    "char_device": ([("data/c", "chr")], "device"),
    "block_device": ([("data/b", "blk")], "device"),
}
ZIP_ONLY = {
    "zip_fifo": ([("data/f", "fifo")], "device, FIFO"),
    "zip_char_device": ([("data/c", "chr")], "device, FIFO"),
}


def _check_refused(tmp_path, archive, match):
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(UnsafeArchiveError, match=match) as info:
        safe_extract(archive, dest)
    assert archive.name in str(info.value)
    assert not dest.exists() or list(dest.rglob("*")) == [], "something was extracted"
    assert list(outside.iterdir()) == []
    assert not os.path.lexists("/tmp/textgan-evil")


@pytest.mark.parametrize("name", list(TRICKS) + list(TAR_ONLY))
@pytest.mark.parametrize("mode", ["w:gz", "w"], ids=["tgz", "tar"])
def test_tar_tricks_are_refused_before_writing(tmp_path, name, mode):
    members, match = {**TRICKS, **TAR_ONLY}[name]
    archive = tmp_path / ("bad.tgz" if mode == "w:gz" else "bad.tar")
    archive.write_bytes(_tar(GOOD + members, mode))
    _check_refused(tmp_path, archive, match)


@pytest.mark.parametrize("name", [n for n in TRICKS if "hardlink" not in n] + list(ZIP_ONLY))
def test_zip_tricks_are_refused_before_writing(tmp_path, name):
    members, match = {**TRICKS, **ZIP_ONLY}[name]
    archive = tmp_path / "bad.zip"
    archive.write_bytes(_zip(GOOD + members))
    _check_refused(tmp_path, archive, match)


def test_existing_link_in_the_destination_is_not_followed(tmp_path):
    """A symlink already on disk under dest (left by an earlier extraction) must not carry a member outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(outside, dest / "data")
    archive = tmp_path / "ok.tgz"
    archive.write_bytes(_tar([("data/evil.txt", "file", b"x")]))
    with pytest.raises(UnsafeArchiveError, match="outside"):
        safe_extract(archive, dest)
    assert list(outside.iterdir()) == []


def test_setuid_bits_are_dropped_and_inside_links_work(tmp_path):
    archive = tmp_path / "ok.tgz"
    archive.write_bytes(_tar([("data/run.sh", "file", b"#!/bin/sh\n", 0o4755), ("data/link", "symlink", "run.sh"),
                              ("data/copy", "hardlink", "data/run.sh")]))
    paths = safe_extract(archive, tmp_path / "dest")
    assert [p.name for p in paths] == ["run.sh", "link", "copy"]
    mode = (tmp_path / "dest" / "data" / "run.sh").stat().st_mode
    assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX)
    assert os.readlink(tmp_path / "dest" / "data" / "link") == "run.sh"
    assert (tmp_path / "dest" / "data" / "copy").read_bytes() == b"#!/bin/sh\n"
    assert not (tmp_path / "dest" / "data" / "copy").is_symlink()


def test_not_an_archive(tmp_path):
    bad = tmp_path / "x.tgz"
    bad.write_bytes(b"\x1f\x8b" + b"\x00" * 30)
    with pytest.raises(UnsafeArchiveError, match="corrupt"):
        safe_extract(bad, tmp_path / "d")
    with pytest.raises(FileNotFoundError):
        safe_extract(tmp_path / "missing.tgz", tmp_path / "d")
