"""R-precision: the DM-GAN fold protocol on constructed embeddings, mismatched-caption draws, DAMSM encoders."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from textgan.metrics import draw_mismatched, r_precision, r_precision_from_embeddings


def test_hits_and_folds():
    g = torch.Generator().manual_seed(0)
    n, d = 40, 16
    img = torch.randn(n, d, generator=g)
    true = img + 0.01 * torch.randn(n, d, generator=g)  # every true caption is closest ...
    mis = torch.randn(n, 99, d, generator=g)
    true[:10] = -img[:10]  # ... except the first 10
    mean, std, hits = r_precision_from_embeddings(img, true, mis, folds=4, dmgan_slices=False)
    assert hits.sum() == 30 and hits[:10].sum() == 0
    assert (mean, std) == pytest.approx((75.0, np.std([0, 100, 100, 100])))
    # DM-GAN's slices R[i*m:(i+1)*m-1] leave out the last item of each fold
    mean_dm, _, _ = r_precision_from_embeddings(img, true, mis, folds=4)
    assert mean_dm == pytest.approx(75.0)
    with pytest.raises(ValueError, match="shapes do not fit"):
        r_precision_from_embeddings(img, true[:5], mis)


def test_mismatched_captions_come_from_other_classes():
    ids = [0, 0, 1, 1, 2, 2]
    idx = draw_mismatched(ids, 99, torch.Generator().manual_seed(0))
    assert idx.shape == (6, 99)
    for i, row in enumerate(idx):
        assert all(ids[j] != ids[i] for j in row.tolist())
    with pytest.raises(ValueError, match="same class_id"):
        draw_mismatched([3, 3, 3], 5)


def test_with_damsm_encoders():
    from textgan.models.inception import DAMSMImageEncoder
    from textgan.text import DAMSMTextEncoder

    torch.manual_seed(0)
    image_encoder = DAMSMImageEncoder(nef=16, width_divisor=16, input_size=75)
    text_encoder = DAMSMTextEncoder(vocab_size=30, embedding_dim=8, hidden_dim=16)
    n = 20
    images = torch.rand(n, 3, 32, 32) * 2 - 1
    captions = torch.randint(1, 30, (n, 6))
    lens = torch.full((n,), 6)
    r = r_precision(images, captions, lens, image_encoder=image_encoder, text_encoder=text_encoder,
                    num_mismatched=9, folds=2, generator=torch.Generator().manual_seed(0))
    assert r.metric == "R-precision" and r.n == n and 0 <= r.value <= 100
    assert r.details["candidates"] == 10
