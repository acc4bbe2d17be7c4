"""The reference implementations' side of benchmarks/metrics_peers.py. Run ONLY by that script, in a separate
environment holding torchvision, pytorch-fid, clean-fid and scipy; it imports nothing of textgan.

    PEER_PYTHON benchmarks/metrics_peer_side.py WORKDIR

Reads WORKDIR/{images/, reference.npz, fid_weights.pth, resize/, frechet_*.npz}, writes WORKDIR/peer.json,
WORKDIR/peer_features.npy (every image) and WORKDIR/peer_stats.npz.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

work = Path(sys.argv[1])
out = {"versions": {}}

import cleanfid  # noqa: E402
import pytorch_fid  # noqa: E402
import pytorch_fid.inception as pfi  # noqa: E402
import scipy  # noqa: E402
from cleanfid.resize import build_resizer  # noqa: E402
from pytorch_fid import fid_score  # noqa: E402

out["versions"] = {"pytorch_fid": pytorch_fid.__version__, "clean_fid": getattr(cleanfid, "__version__", "0.1.35"),
                   "scipy": scipy.__version__, "torch": torch.__version__, "numpy": np.__version__,
                   "pillow": Image.__version__}

# pytorch-fid with our random weights file in its layout instead of the downloaded one
weights = torch.load(work / "fid_weights.pth", map_location="cpu", weights_only=True)
pfi.load_state_dict_from_url = lambda *a, **k: weights
model = pfi.InceptionV3([3]).eval()
out["pt_inception_keys"] = {k: list(v.shape) for k, v in pfi.fid_inception_v3().state_dict().items()}

files = sorted((work / "images").glob("*.png"))
t = time.perf_counter()
act = fid_score.get_activations(files, model, batch_size=50, dims=2048, device="cpu", num_workers=0)
elapsed = time.perf_counter() - t
np.save(work / "peer_features.npy", act.astype(np.float32))
mu, sigma = np.mean(act, axis=0), np.cov(act, rowvar=False)
np.savez(work / "peer_stats.npz", mu=mu, sigma=sigma)
with np.load(work / "reference.npz") as f:
    m2, s2 = f["mu"], f["sigma"]
try:
    peer_fid = float(fid_score.calculate_frechet_distance(mu, sigma, m2, s2))
except ValueError as e:  # singular statistics of a quick run: "Imaginary component"
    peer_fid = None
    out["pytorch_fid_error"] = str(e)
out["pytorch_fid"] = {"fid": peer_fid, "n": len(files),
                      "seconds": elapsed, "images_per_s": len(files) / elapsed,
                      "mu_sum": float(mu.sum()), "sigma_trace": float(np.trace(sigma))}

# clean-fid's resizer on the same files (mixed sizes, grayscale), as its ResizeDataset reads them
fn = build_resizer("clean")
resized = {}
for p in sorted((work / "resize").iterdir()):
    arr = fn(np.array(Image.open(p).convert("RGB")))
    resized[p.name] = {"sha256": hashlib.sha256(np.ascontiguousarray(arr, np.float32).tobytes()).hexdigest(),
                       "shape": list(arr.shape), "sum": float(arr.astype(np.float64).sum())}
out["clean_resize"] = resized

# scipy's sqrtm Fréchet distance (pytorch-fid's function) on random 2048-d statistics, with its time
frechet = {}
for p in sorted(work.glob("frechet_*.npz")):
    with np.load(p) as f:
        a = [f[k] for k in ("mu1", "sigma1", "mu2", "sigma2")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        value = float(fid_score.calculate_frechet_distance(*a))
        frechet[p.stem] = {"fid": value, "seconds": time.perf_counter() - t}
out["scipy_frechet"] = frechet
(work / "peer.json").write_text(json.dumps(out, indent=1))
print(json.dumps({k: v for k, v in out.items() if k != "pt_inception_keys"}, indent=1))
