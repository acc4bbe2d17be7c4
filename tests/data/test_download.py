"""textgan.data.download against a loopback HTTP server, and safe_extract on crafted archives."""
from __future__ import annotations

import hashlib
import io
import os
import sys
import tarfile
import zipfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from hub_server import FakeHub  # noqa: E402

from textgan.data import DATASET_FILES, download, safe_extract  # noqa: E402
from textgan.data.download import RemoteFile  # noqa: E402
from textgan.errors import ChecksumError, PretrainedNotFoundError, UnsafeArchiveError  # noqa: E402


def _tgz(members) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tf.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
    return buf.getvalue()


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _zip(members) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def server():
    with FakeHub() as hub:
        yield hub


def test_official_table_has_checksums():
    for name, files in DATASET_FILES.items():
        assert files and all(f.md5 and len(f.md5) == 32 and f.url.startswith("http") for f in files), name


def test_download_extracts_and_skips_when_done(server, tmp_path):
    data = _tgz([("CUB_200_2011/images.txt", b"1 a/b.jpg\n"), ("CUB_200_2011/images/a/b.jpg", b"jpeg")])
    server.static["cub/CUB_200_2011.tgz"] = data
    rf = RemoteFile(f"{server.endpoint}/files/cub/CUB_200_2011.tgz", "CUB_200_2011.tgz",
                    md5=hashlib.md5(data).hexdigest())
    out = download("cub", tmp_path, files=[rf], progress=False)
    assert (out / "CUB_200_2011" / "images.txt").read_text() == "1 a/b.jpg\n"
    n = len(server.requests)
    download("birds", tmp_path, files=[rf], progress=True)  # verified archive + marker: no request, no re-extract
    assert len(server.requests) == n
    # a mirror: base_url + filename, same checksum
    out2 = download("cub", tmp_path / "m", files=[rf], base_url=f"{server.endpoint}/files/cub", progress=False,
                    keep_archives=False)
    assert (out2 / "CUB_200_2011" / "images" / "a" / "b.jpg").read_bytes() == b"jpeg"
    assert not (out2 / "CUB_200_2011.tgz").exists()


def test_download_checksum_mismatch_keeps_nothing(server, tmp_path):
    server.static["f/102flowers.tgz"] = _tgz([("jpg/image_00001.jpg", b"x")])
    rf = RemoteFile(f"{server.endpoint}/files/f/102flowers.tgz", "102flowers.tgz", md5="0" * 32)
    with pytest.raises(ChecksumError, match="md5 mismatch.*102flowers.tgz"):
        download("flowers", tmp_path, files=[rf], progress=False)
    assert not (tmp_path / "102flowers.tgz").exists() and not (tmp_path / "jpg").exists()


def test_download_http_error_and_unknown_name(server, tmp_path):
    with pytest.raises(PretrainedNotFoundError, match="missing.zip"):
        download("coco", tmp_path, files=[RemoteFile(f"{server.endpoint}/files/missing.zip", "missing.zip")],
                 progress=False)
    with pytest.raises(KeyError, match="known: coco, cub, flowers"):
        download("imagenet", tmp_path)


def test_download_refuses_traversal_archive(server, tmp_path):
    data = _tgz([("ok.txt", b"1"), ("../../evil.txt", b"x")])
    server.static["evil.tgz"] = data
    rf = RemoteFile(f"{server.endpoint}/files/evil.tgz", "evil.tgz", md5=hashlib.md5(data).hexdigest())
    with pytest.raises(UnsafeArchiveError, match=r"evil.tgz.*\.\./\.\./evil.txt"):
        download("cub", tmp_path / "d", files=[rf], progress=False)
    assert not (tmp_path / "d" / "ok.txt").exists() and not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("members,match", [
    ([("/abs/x", b"")], "absolute"),
    ([("a/../../x", b"")], r"'\.\.'"),
    ([_link("l", "../outside")], "outside the destination"),
    ([_link("l", "/etc/passwd")], "outside the destination"),
    ([_link("h", "../../etc/passwd", tarfile.LNKTYPE)], "outside the destination"),
    ([("ok", b"1"), _link("l", "."), ("l/x", b"")], "through the symbolic link"),
    ([_link("r", "."), _link("p", "r/.."), ("p/evil", b"")], "through the symbolic link"),
    ([("ok", b"1"), _link("f", "", tarfile.FIFOTYPE)], "FIFO"),
    ([_link("d", "", tarfile.CHRTYPE)], "device"),
])
def test_safe_extract_refuses_and_writes_nothing(tmp_path, members, match):
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(_tgz(members))
    with pytest.raises(UnsafeArchiveError, match=match) as e:
        safe_extract(archive, tmp_path / "out")
    assert "bad.tar.gz" in str(e.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_safe_extract_allows_inside_links_and_zip(tmp_path):
    archive = tmp_path / "good.tgz"
    archive.write_bytes(_tgz([("d/a.txt", b"hi"), _link("d/b", "a.txt"), _link("d/c", "d/a.txt", tarfile.LNKTYPE)]))
    paths = safe_extract(archive, tmp_path / "out")
    assert [p.name for p in paths] == ["a.txt", "b", "c"]
    assert (tmp_path / "out/d/b").read_text() == "hi" and (tmp_path / "out/d/c").read_text() == "hi"
    z = tmp_path / "x.zip"
    z.write_bytes(_zip([("train2014/a.jpg", b"1")]))
    assert safe_extract(z, tmp_path / "z") == [tmp_path / "z" / "train2014" / "a.jpg"]
    z.write_bytes(_zip([("ok", b"1"), ("..\\evil", b"1")]))
    with pytest.raises(UnsafeArchiveError, match="x.zip"):
        safe_extract(z, tmp_path / "z2")
    (tmp_path / "junk.tgz").write_bytes(b"not an archive")
    with pytest.raises(UnsafeArchiveError, match="corrupt or truncated"):
        safe_extract(tmp_path / "junk.tgz", tmp_path / "j")
