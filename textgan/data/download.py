"""Download and unpack the official dataset archives (checksummed, resumable, safely extracted).

``textgan.data.download("cub", "data/birds")`` fetches ``CUB_200_2011.tgz`` from CaltechDATA, checks its MD5 and
unpacks it into ``data/birds/CUB_200_2011``. The text-to-image metadata (AttnGAN's ``birds.zip`` / ``coco.zip``,
Reed's ``cub_icml`` / ``flowers_icml`` / captions) is only published on Google Drive pages that need a browser
confirmation; download those by hand and unpack them with :func:`textgan.data.safe_extract`.

The MD5 digests are those the dataset hosts' files are widely verified against (torchvision's ``Flowers102``,
the TDeVries ``Cub2011`` loader, COCO download scripts); the hosts publish no SHA-256.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from ..errors import ChecksumError
from ._archive import archive_kind, safe_extract

__all__ = ["RemoteFile", "DATASET_FILES", "download", "merge_into"]

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: where it is, what it must hash to, and whether it is an archive to unpack."""

    url: str
    filename: str
    md5: Optional[str] = None
    sha256: Optional[str] = None
    extract: bool = True
    size: Optional[int] = None  # bytes, for information


DATASET_FILES: Dict[str, List[RemoteFile]] = {
    "cub": [RemoteFile("https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz?download=1",
                       "CUB_200_2011.tgz", md5="97eceeb196236b17998738112f37df78")],
    "flowers": [
        RemoteFile("https://www.robots.ox.ac.uk/~vgg/data/flowers/102/102flowers.tgz", "102flowers.tgz",
                   md5="52808999861908f626f3c1f4e79d11fa"),
        RemoteFile("https://www.robots.ox.ac.uk/~vgg/data/flowers/102/imagelabels.mat", "imagelabels.mat",
                   md5="e0620be6f572b9609742df49c70aed4d", extract=False),
        RemoteFile("https://www.robots.ox.ac.uk/~vgg/data/flowers/102/setid.mat", "setid.mat",
                   md5="a5357ecc9cb78c4bef273ce3793fc85c", extract=False),
    ],
    "coco": [
        RemoteFile("http://images.cocodataset.org/zips/train2014.zip", "train2014.zip",
                   md5="0da8c0bd3d6becc4dcb32757491aca88"),
        RemoteFile("http://images.cocodataset.org/zips/val2014.zip", "val2014.zip",
                   md5="a3d79f5ed8d289b7a7554ce06a5782b3"),
        RemoteFile("http://images.cocodataset.org/annotations/annotations_trainval2014.zip",
                   "annotations_trainval2014.zip", md5="0a379cfc70b0e71301e0f377548639bd", size=252872794),
    ],
}
_ALIASES = {"birds": "cub", "cub200": "cub", "oxford102": "flowers", "flower": "flowers", "coco2014": "coco"}


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _verified(path: Path, rf: RemoteFile) -> bool:
    return path.is_file() and (rf.md5 is None or _md5(path) == rf.md5.lower())


def download(name: str, root: PathLike, *, files: Optional[Sequence[RemoteFile]] = None,
             base_url: Optional[str] = None, extract: bool = True, keep_archives: bool = True,
             progress: bool = True, timeout: float = 60.0) -> Path:
    """Download (and unpack) a dataset's official files into ``root``.

    Args:
        name: ``"cub"``, ``"flowers"`` or ``"coco"`` (aliases: birds, oxford102, coco2014).
        root: the destination folder; archives are saved there and unpacked in place (``CUB_200_2011/``,
            ``jpg/``, ``train2014/``, ``val2014/``, ``annotations/``).
        files: download these instead of :data:`DATASET_FILES` ``[name]`` (mirrors, tests).
        base_url: fetch every file from ``base_url + "/" + filename`` instead (a mirror); checksums still apply.
        extract: unpack archives (with :func:`safe_extract`: no absolute or ``..`` members, no escaping links).
        keep_archives: keep the archives after unpacking (a later call then skips both steps).
        progress: show tqdm progress bars (files, and members while unpacking).
        timeout: seconds for the connection and each read.

    Returns:
        ``root`` as a Path.

    Raises:
        KeyError: unknown ``name`` (the message lists the known ones).
        ChecksumError: a downloaded file does not match its MD5 (it is deleted; nothing is unpacked).
        PretrainedNotFoundError: HTTP error or network failure (from :func:`textgan.hub.download_url`); a partial
            download is resumed by the next call where the server supports it.
        UnsafeArchiveError: an archive member would land outside ``root``; nothing of that archive is written.
    """
    from ..hub import download_url

    key = _ALIASES.get(name.lower(), name.lower()) if isinstance(name, str) else name
    if files is None:
        if key not in DATASET_FILES:
            raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASET_FILES))}")
        files = DATASET_FILES[key]
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    bar = _bar(len(files), f"download {key}", progress)
    try:
        for rf in files:
            dest = root / rf.filename
            done = root / f".{rf.filename}.extracted"
            url = f"{base_url.rstrip('/')}/{rf.filename}" if base_url else rf.url
            if extract and rf.extract and done.is_file() and not dest.is_file():
                bar.update(1)
                continue  # unpacked earlier, archive removed since
            if not _verified(dest, rf):
                dest.unlink(missing_ok=True)
                download_url(url, dest, sha256=rf.sha256, timeout=timeout)
                if rf.md5 is not None:
                    actual = _md5(dest)
                    if actual != rf.md5.lower():
                        dest.unlink(missing_ok=True)
                        raise ChecksumError(f"md5 mismatch for {url}: expected {rf.md5.lower()}, got {actual}; the "
                                            "file is corrupt or was replaced upstream, so it was not kept")
            if extract and rf.extract and not done.is_file():
                archive_kind(dest)  # a clear error before anything else if it is not an archive
                safe_extract(dest, root)
                done.write_text(rf.md5 or "")
                if not keep_archives:
                    dest.unlink()
            bar.update(1)
    finally:
        bar.close()
    return root


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(total: int, desc: str, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="file")


def merge_into(src: PathLike, dest: PathLike) -> None:
    """Move every file of ``src`` into ``dest``: AttnGAN/DM-GAN want ``train2014/*`` and ``val2014/*`` in one flat
    ``images/`` (DM-GAN README: ``mv train2014 images; cp val2014/* images``)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for p in Path(src).iterdir():
        shutil.move(str(p), str(dest / p.name))
