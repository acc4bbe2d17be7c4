"""textgan.metrics.fid / fid_statistics: sources, protocols, statistics files, bad input."""
from __future__ import annotations


import numpy as np
import pytest
import torch
from PIL import Image

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _images import write_images  # noqa: E402
from textgan.errors import ArchitectureMismatchError, CheckpointError
from textgan.metrics import (FeatureExtractor, SingularCovarianceWarning, Statistics, fid, fid_statistics,
                             load_statistics)

pytestmark = pytest.mark.filterwarnings("ignore::textgan.metrics.SingularCovarianceWarning")


def test_folder_tensor_and_list_give_the_same_statistics(fid_weights, image_dirs):
    a, _ = image_dirs
    files = sorted(a.glob("*.png"))
    pil = [Image.open(p).convert("RGB") for p in files]
    tensor = torch.stack([torch.from_numpy(np.array(im)).permute(2, 0, 1) for im in pil]).float() / 255
    ex = FeatureExtractor("tf", fid_weights)
    s_folder = fid_statistics(a, extractor=ex, batch_size=7)
    s_tensor = fid_statistics(tensor, extractor=ex, batch_size=16)
    s_list = fid_statistics(iter([pil[:10], pil[10:]]), extractor=ex)
    for s in (s_tensor, s_list):
        np.testing.assert_allclose(s.mu, s_folder.mu, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(s.sigma, s_folder.sigma, rtol=1e-4, atol=1e-7)
    assert s_folder.n == 16 and s_folder.protocol == "tf"
    # the streaming statistics are numpy's mean and unbiased covariance of the features
    feats = torch.cat([ex(pil[i:i + 7]) for i in range(0, 16, 7)]).double().numpy()
    np.testing.assert_allclose(s_folder.mu, feats.mean(0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(s_folder.sigma, np.cov(feats, rowvar=False), rtol=1e-8, atol=1e-12)


def test_fid_result_and_npz_round_trip(fid_weights, image_dirs, tmp_path):
    a, b = image_dirs
    ref = fid_statistics(b, inception_weights=fid_weights)
    path = ref.save(tmp_path / "ref.npz")
    with np.load(path) as f:
        assert {"mu", "sigma"} <= set(f.keys()) and f["sigma"].dtype == np.float64
    r1 = fid(a, path, inception_weights=fid_weights)
    r2 = fid(a, b, inception_weights=fid_weights)
    r3 = fid(a, (ref.mu, ref.sigma), inception_weights=fid_weights)
    assert r1.value == pytest.approx(r2.value, rel=1e-9) == pytest.approx(r3.value, rel=1e-9)
    assert r1.value > 0 and (r1.protocol, r1.n, r1.reference) == ("tf", 16, str(path))
    assert float(r1) == r1.value and "protocol tf, n=16" in str(r1)
    assert fid(ref, ref).value == pytest.approx(0, abs=1e-6)
    # a pytorch-fid / DF-GAN file has only mu and sigma (maybe float32)
    np.savez(tmp_path / "plain.npz", mu=ref.mu.astype(np.float32), sigma=ref.sigma.astype(np.float32))
    plain = load_statistics(tmp_path / "plain.npz")
    assert plain.protocol is None and plain.n is None
    assert fid(a, tmp_path / "plain.npz", inception_weights=fid_weights).value == pytest.approx(r1.value, rel=1e-4)


def test_n_keeps_the_first_images(fid_weights, image_dirs):
    a, b = image_dirs
    assert fid(a, (np.zeros(128), np.eye(128)), n=10, inception_weights=fid_weights).n == 10
    with pytest.raises(ValueError, match="n=30 images asked for but the folder has 16"):
        fid(a, b, n=30, inception_weights=fid_weights)


def test_mixed_sizes_grayscale_and_rgba_are_read(fid_weights, tmp_path):
    folder = write_images(tmp_path / "mixed", 6, sizes=((30, 40), (64, 64), (299, 299)), modes=("RGB", "L", "RGBA"))
    for protocol, weights in (("tf", fid_weights), ("clean", fid_weights)):
        s = fid_statistics(folder, protocol=protocol, inception_weights=weights)
        assert s.n == 6 and np.isfinite(s.mu).all()
    # a grayscale image gives the features of its replicated RGB version
    gray = Image.open(folder / "0001.png")
    assert gray.mode == "L"
    ex = FeatureExtractor("tf", fid_weights)
    torch.testing.assert_close(ex([gray]), ex([gray.convert("RGB")]))


def test_legacy_t2i_protocol(torchvision_weights, fid_weights, image_dirs):
    a, b = image_dirs
    r = fid(a, b, protocol="legacy-t2i", inception_weights=torchvision_weights)
    assert r.protocol == "legacy-t2i" and r.value > 0
    with pytest.raises(ArchitectureMismatchError, match="AuxLogits"):
        fid(a, b, protocol="tf", inception_weights=torchvision_weights)


def test_fewer_images_than_dimensions_warns(fid_weights, image_dirs):
    a, b = image_dirs
    with pytest.warns(SingularCovarianceWarning, match="fewer than 129 images"):
        fid(a, b, inception_weights=fid_weights)


def test_bad_inputs(fid_weights, image_dirs, tmp_path):
    a, b = image_dirs
    np.savez(tmp_path / "bad.npz", mean=np.zeros(3))
    with pytest.raises(CheckpointError, match=r"bad.npz.*'mu' and 'sigma'.*\['mean'\]"):
        fid(a, tmp_path / "bad.npz", inception_weights=fid_weights)
    with pytest.raises(FileNotFoundError, match="no such statistics file"):
        load_statistics(tmp_path / "missing.npz")
    np.savez(tmp_path / "shape.npz", mu=np.zeros(3), sigma=np.zeros((2, 2)))
    with pytest.raises(CheckpointError, match="do not fit"):
        load_statistics(tmp_path / "shape.npz")
    np.savez(tmp_path / "dims.npz", mu=np.zeros(3), sigma=np.eye(3))
    with pytest.raises(ValueError, match="128-d features but reference"):
        fid(a, tmp_path / "dims.npz", inception_weights=fid_weights)
    other = Statistics(np.zeros(128), np.eye(128), 10, "clean")
    with pytest.raises(ValueError, match="computed with protocol 'clean'"):
        fid(a, other, inception_weights=fid_weights)
    with pytest.raises(ValueError, match="protocol must be one of"):
        fid(a, b, protocol="torchmetrics", inception_weights=fid_weights)
    with pytest.raises(FileNotFoundError, match="no such image folder"):
        fid(tmp_path / "nothing", b, inception_weights=fid_weights)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no image files"):
        fid(tmp_path / "empty", b, inception_weights=fid_weights)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="x.png: cannot be read as an image"):
        fid(tmp_path / "broken", b, inception_weights=fid_weights)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        fid(torch.zeros(3, 8, 8), b, inception_weights=fid_weights)
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        fid(a, b, inception_weights=tmp_path / "nope.pth")
    with pytest.raises(ValueError, match="at least 2 images"):
        fid(torch.rand(1, 3, 8, 8), (np.zeros(128), np.eye(128)), inception_weights=fid_weights)
    with pytest.raises(ValueError, match="no images"):
        fid([], (np.zeros(128), np.eye(128)), inception_weights=fid_weights)


def test_float_arrays_in_hwc_and_chw_and_value_range(fid_weights):
    ex = FeatureExtractor("tf", fid_weights)
    x = torch.rand(2, 3, 20, 24)
    ref = ex(x)
    torch.testing.assert_close(ex([im.permute(1, 2, 0).numpy() for im in x]), ref)
    ex11 = FeatureExtractor("tf", fid_weights, value_range=(-1.0, 1.0))
    torch.testing.assert_close(ex11(x * 2 - 1), ref, rtol=1e-4, atol=1e-5)


def test_result_does_not_depend_on_batch_size_or_optimisation(fid_weights, image_dirs):
    a, _ = image_dirs
    fast = FeatureExtractor("tf", fid_weights)
    plain = FeatureExtractor("tf", fid_weights, optimize=False)
    imgs = [Image.open(p).convert("RGB") for p in sorted(a.glob("*.png"))[:6]]
    torch.testing.assert_close(fast(imgs), plain(imgs), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(torch.cat([fast(imgs[:1]), fast(imgs[1:])]), fast(imgs), rtol=1e-4, atol=1e-5)


def test_weights_are_downloaded_once_and_checked(monkeypatch, tmp_path, fid_weights):
    import hashlib
    import shutil

    import textgan.hub as hub
    from textgan.errors import ChecksumError
    from textgan.metrics.inception import WEIGHTS, FIDInceptionV3, load_inception

    calls = []

    def fake_download(url, dest, **kwargs):
        calls.append(url)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(fid_weights, dest)
        return dest

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(hub, "download_url", fake_download)
    digest = hashlib.sha256(fid_weights.read_bytes()).hexdigest()[:8]
    monkeypatch.setitem(WEIGHTS, "fid", (f"https://example.invalid/pt_inception-{digest}.pth", digest, "", ""))
    assert isinstance(load_inception("fid"), FIDInceptionV3)
    assert isinstance(load_inception("fid"), FIDInceptionV3) and len(calls) == 1  # cached
    assert (tmp_path / "hub" / "checkpoints" / f"pt_inception-{digest}.pth").is_file()
    monkeypatch.setitem(WEIGHTS, "fid", ("https://example.invalid/pt_inception-deadbeef.pth", "deadbeef", "", ""))
    with pytest.raises(ChecksumError, match="does not start with deadbeef"):
        load_inception("fid")
