"""textgan's metrics against pytorch-fid, clean-fid and scipy on the same files (benchmarks/README.md, ## Metrics).

    python benchmarks/metrics_peers.py --peer-python /work/peers/bin/python [--images 200] [--work DIR]

The peers need torchvision, which cannot be installed next to textgan's CPU torch, so they run in another
environment (``python3 -m venv /work/peers && /work/peers/bin/pip install torch torchvision pytorch-fid clean-fid
scipy``) through ``benchmarks/metrics_peer_side.py``. Never run by the test suite. What it does:

1. writes ``--images`` synthetic 64×64 PNGs, a full-size randomly initialised Inception in pytorch-fid's layout
   (``textgan.metrics.inception.random_inception``, seed 0; pytorch-fid is made to load it instead of
   downloading its file), a fixed full-rank reference ``.npz``, four images of mixed sizes and modes for the
   resizer, and random full-rank 2048-d Gaussian statistics;
2. runs pytorch-fid (in the peer environment) and textgan's "tf" extraction **at the same time** on the folder,
   each timing its own extraction, so the load of a shared machine slows both alike; the peer side also runs
   clean-fid's ``build_resizer("clean")`` on the four images and pytorch-fid's scipy-sqrtm Fréchet distance;
3. compares features, statistics and FIDs, prints the report and stores what CI re-checks without the peers in
   ``tests/data/metrics/``: ``peer_reference.json``, pytorch-fid's features of the first 8 images, the 8 images,
   the 4 resize images and the key list of pytorch-fid's network.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "metrics"


def synthetic_image(i: int, size: int = 64) -> np.ndarray:
    """A smooth random colour image (blobs and gradients), deterministic in ``i``."""
    rng = np.random.default_rng(1000 + i)
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.zeros((size, size, 3))
    for _ in range(4):
        cy, cx, r = rng.random(3)
        colour = rng.random(3)
        mask = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (0.02 + 0.1 * r))
        img += mask[..., None] * colour
    img += rng.random(3) * xx[..., None] + rng.normal(0, 0.03, img.shape)
    return (np.clip(img / img.max(), 0, 1) * 255).astype(np.uint8)


def random_statistics(d: int = 2048, seed: int = 0):
    """Two full-rank Gaussians ``(mu1, sigma1, mu2, sigma2)`` for the Fréchet comparison (tests regenerate them)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(2):
        a = rng.standard_normal((d, 2 * d)) * rng.random(d)[:, None]
        out += [rng.standard_normal(d) * 0.1, a @ a.T / (2 * d)]
    return out[0], out[1], out[2], out[3]


def resize_images(folder: Path) -> None:
    rng = np.random.default_rng(7)
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (80, 64, 3), dtype=np.uint8)).save(folder / "rgb_64x80.png")
    Image.fromarray(synthetic_image(3, 257)[:, :, :]).resize((300, 257)).save(folder / "rgb_300x257.png")
    Image.fromarray(rng.integers(0, 256, (128, 128), dtype=np.uint8), mode="L").save(folder / "gray_128.png")
    Image.fromarray(rng.integers(0, 256, (50, 50, 4), dtype=np.uint8), mode="RGBA").save(folder / "rgba_50.png")


def calibration_batch(files):
    """The "tf" network input of ``files``: what the random network's BatchNorms are calibrated on (the first 8
    images; tests/metrics/test_peer_agreement.py rebuilds the same network from the stored copies)."""
    from textgan.metrics._resize import preprocess

    return preprocess([Image.open(p).convert("RGB") for p in files], "tf")


def reference_statistics(d: int = 2048, seed: int = 1):
    """A fixed full-rank reference ``.npz`` near the scale of the random network's features."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((d, 2 * d)) * 0.05
    return 0.5 + 0.1 * rng.standard_normal(d), a @ a.T / (2 * d)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peer-python", required=True, help="python of the environment with pytorch-fid, clean-fid, scipy")
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--work", default="/tmp/textgan_metrics_peers")
    ap.add_argument("--no-store", action="store_true", help="do not update tests/data/metrics")
    args = ap.parse_args()

    from textgan.metrics import FeatureExtractor, clean_resize, feature_statistics, frechet_distance, load_statistics
    from textgan.metrics.inception import FIDInceptionV3, random_inception

    work = Path(args.work)
    if work.exists():
        shutil.rmtree(work)
    (work / "images").mkdir(parents=True)
    for i in range(args.images):
        Image.fromarray(synthetic_image(i)).save(work / "images" / f"{i:05d}.png")
    resize_images(work / "resize")
    files = sorted((work / "images").glob("*.png"))
    torch.save(random_inception(FIDInceptionV3, seed=0, calibration=calibration_batch(files[:8])).state_dict(),
               work / "fid_weights.pth")
    stats_in = random_statistics()
    np.savez(work / "frechet_2048.npz", mu1=stats_in[0], sigma1=stats_in[1], mu2=stats_in[2], sigma2=stats_in[3])
    mu_ref, sigma_ref = reference_statistics()
    np.savez(work / "reference.npz", mu=mu_ref, sigma=sigma_ref)

    # side by side: pytorch-fid (other environment) and textgan run at the same time on the same folder, so a
    # shared machine's load slows both alike; each times its own feature extraction
    peer_proc = subprocess.Popen([args.peer_python, str(Path(__file__).with_name("metrics_peer_side.py")), str(work)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    extractor = FeatureExtractor("tf", work / "fid_weights.pth")
    t = time.perf_counter()
    stats = feature_statistics(work / "images", extractor, batch_size=50)
    textgan_s = time.perf_counter() - t
    ours_feats = torch.cat([extractor([Image.open(p).convert("RGB") for p in files[k:k + 50]])
                            for k in range(0, len(files), 50)]).numpy()
    stdout, stderr = peer_proc.communicate()
    if peer_proc.returncode:
        sys.exit(f"peer side failed:\n{stdout}\n{stderr}")
    peer = json.loads((work / "peer.json").read_text())
    peer_feats = np.load(work / "peer_features.npy")
    peer_stats = load_statistics(work / "peer_stats.npz")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer images than dimensions: singular, on both sides alike
        fid_ours = frechet_distance(stats.mu, stats.sigma, mu_ref, sigma_ref)
        fid_ours_on_peer_stats = frechet_distance(peer_stats.mu, peer_stats.sigma, mu_ref, sigma_ref)
    resize = {}
    for p in sorted((work / "resize").iterdir()):
        arr = clean_resize(np.array(Image.open(p).convert("RGB")))
        digest = hashlib.sha256(np.ascontiguousarray(arr, np.float32).tobytes()).hexdigest()
        resize[p.name] = {"equal": digest == peer["clean_resize"][p.name]["sha256"], "sha256": digest}
    frechet_distance(*stats_in)  # warm-up
    t = time.perf_counter()
    ours_frechet = frechet_distance(*stats_in)
    ours_frechet_s = time.perf_counter() - t
    scipy_frechet = peer["scipy_frechet"]["frechet_2048"]

    with torch.device("meta"):
        keys_ok = {k: list(v.shape) for k, v in FIDInceptionV3().state_dict().items()} == peer["pt_inception_keys"]
    pf = peer["pytorch_fid"]
    report = {
        "versions": peer["versions"],
        "images": args.images,
        "fid_tf": {
            "textgan": fid_ours, "pytorch_fid": pf["fid"],
            "abs_diff": abs(fid_ours - pf["fid"]) if pf["fid"] is not None else None,
            "textgan_frechet_on_pytorch_fid_stats": fid_ours_on_peer_stats,
            "abs_diff_same_frechet": abs(fid_ours - fid_ours_on_peer_stats),
            "note": ("full-rank covariance" if args.images > 2048 else
                     "fewer images than 2048 dimensions: singular covariance") +
                    "; abs_diff_same_frechet compares the two feature extractions through one Fréchet function",
        },
        "features_max_abs_diff": float(np.abs(ours_feats - peer_feats).max()),
        "features_max_abs": float(np.abs(peer_feats).max()),
        "mu_max_abs_diff": float(np.abs(stats.mu - peer_stats.mu).max()),
        "sigma_max_abs_diff": float(np.abs(stats.sigma - peer_stats.sigma).max()),
        "speed": {"textgan_images_per_s": args.images / textgan_s, "pytorch_fid_images_per_s": pf["images_per_s"],
                  "ratio": (args.images / textgan_s) / pf["images_per_s"], "side_by_side": True},
        "clean_resize": {k: {"equal": v["equal"], "sha256": v["sha256"]} for k, v in resize.items()},
        "frechet_2048": {"textgan": ours_frechet, "scipy": scipy_frechet["fid"],
                         "rel_diff": abs(ours_frechet - scipy_frechet["fid"]) / abs(scipy_frechet["fid"]),
                         "textgan_s": ours_frechet_s, "scipy_s": scipy_frechet["seconds"],
                         "sigma1_trace": float(np.trace(stats_in[1]))},
        "pt_inception_keys_match": keys_ok,
    }
    print(json.dumps(report, indent=1))
    if not args.no_store:
        DATA.mkdir(parents=True, exist_ok=True)
        (DATA / "peer_reference.json").write_text(json.dumps(report, indent=1) + "\n")
        np.save(DATA / "pytorch_fid_features8.npy", peer_feats[:8])
        (DATA / "images").mkdir(exist_ok=True)
        for p in files[:8]:
            shutil.copy(p, DATA / "images" / p.name)
        shutil.copytree(work / "resize", DATA / "resize", dirs_exist_ok=True)
        (DATA / "pt_inception_keys.json").write_text(json.dumps(peer["pt_inception_keys"]) + "\n")


if __name__ == "__main__":
    main()
