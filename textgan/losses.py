"""The papers' training objectives, as plain functions of tensors.

Each function says which paper and which original file it follows, and which quirks it keeps.
"""
from __future__ import annotations

import torch

__all__: list = []


# ------------------------------------------------------------------------ AttnGAN: DAMSM and CA KL
# taoxugit/AttnGAN code/miscc/losses.py (words_loss, sent_loss, KL_loss); MIT licence.

__all__ += ["damsm_words_loss", "damsm_sentence_loss", "kl_loss"]


def _class_mask(class_ids, batch: int, device) -> "torch.Tensor | None":
    """(B, B) bool: True where sample j has the class of sample i and j != i (DAMSM masks those pairs)."""
    if class_ids is None:
        return None
    ids = torch.as_tensor(class_ids).reshape(-1).to(device)
    if ids.numel() != batch:
        raise ValueError(f"class_ids has {ids.numel()} entries for a batch of {batch}")
    same = ids[:, None] == ids[None, :]
    return same & ~torch.eye(batch, dtype=torch.bool, device=device)


def _labels(labels, batch: int, device) -> torch.Tensor:
    return torch.arange(batch, device=device) if labels is None else torch.as_tensor(labels, device=device)


def _cosine(x1: torch.Tensor, x2: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    # the authors' cosine: the product of the norms is clamped, not each norm
    return (x1 * x2).sum(1) / (x1.norm(2, 1) * x2.norm(2, 1)).clamp(min=eps)


def damsm_words_loss(img_features: torch.Tensor, words_emb: torch.Tensor, cap_lens, labels=None, class_ids=None,
                     gamma1: float = 4.0, gamma2: float = 5.0, gamma3: float = 10.0):
    """Word-level DAMSM loss (AttnGAN ``words_loss``): image regions matched to the words of every caption.

    Args:
        img_features: (B, D, 17, 17) region features of the DAMSM image encoder.
        words_emb: (B, D, T) word features of the text encoder (T ≥ every caption length).
        cap_lens: (B,) caption lengths; caption i uses its first ``cap_lens[i]`` words.
        labels: (B,) index of the matching caption of each image (default ``arange(B)``).
        class_ids: (B,) class of each sample, or ``None``. Pairs (i, j ≠ i) of the same class are excluded
            from the softmax (set to −inf), as in the original.
        gamma1, gamma2, gamma3: ``TRAIN.SMOOTH.GAMMA1/2/3`` (4, 5, 10 in every released config).

    Returns ``(loss0, loss1, att_maps)``: cross-entropy of the (images × captions) similarity matrix scaled by
    ``gamma3`` over captions (loss0) and over images (loss1), and for each caption i its (1, n_i, 17, 17)
    attention over image i. The relevance of image b to caption i is
    ``log Σ_words exp(gamma2 · cos(word, region context of the word))`` (:func:`textgan.nn.damsm_attention`).
    """
    from .nn.attention import damsm_attention

    batch = img_features.shape[0]
    lens = [int(n) for n in torch.as_tensor(cap_lens).reshape(-1).tolist()]
    if len(lens) != batch or words_emb.shape[0] != batch:
        raise ValueError(f"words_emb ({words_emb.shape[0]}), cap_lens ({len(lens)}) and img_features ({batch}) "
                         "must have the same batch size")
    if min(lens) < 1 or max(lens) > words_emb.shape[2]:
        raise ValueError(f"cap_lens must lie in [1, {words_emb.shape[2]}], got {lens}")
    columns, att_maps = [], []
    for i, n in enumerate(lens):
        word = words_emb[i, :, :n].unsqueeze(0).expand(batch, -1, -1)  # caption i against every image
        context, attn = damsm_attention(word, img_features, gamma1)
        att_maps.append(attn[i].unsqueeze(0))
        sim = _cosine(word.transpose(1, 2).reshape(batch * n, -1), context.transpose(1, 2).reshape(batch * n, -1))
        # exp, sum, log in that order, as the original (not logsumexp)
        columns.append(sim.view(batch, n).mul(gamma2).exp().sum(dim=1, keepdim=True).log())
    similarities = torch.cat(columns, 1) * gamma3  # (images, captions)
    mask = _class_mask(class_ids, batch, similarities.device)
    if mask is not None:
        similarities = similarities.masked_fill(mask, float("-inf"))
    target = _labels(labels, batch, similarities.device)
    loss0 = torch.nn.functional.cross_entropy(similarities, target)
    loss1 = torch.nn.functional.cross_entropy(similarities.t(), target)
    return loss0, loss1, att_maps


def damsm_sentence_loss(cnn_code: torch.Tensor, rnn_code: torch.Tensor, labels=None, class_ids=None,
                        gamma3: float = 10.0, eps: float = 1e-8):
    """Sentence-level DAMSM loss (AttnGAN ``sent_loss``): cosine similarity of global image and sentence codes.

    Args:
        cnn_code: (B, D) global image codes; rnn_code: (B, D) sentence codes.
        labels, class_ids, gamma3: as :func:`damsm_words_loss`; ``eps`` clamps the product of the norms.

    Returns ``(loss0, loss1)``: cross-entropy over captions for each image and over images for each caption.
    """
    batch = cnn_code.shape[0]
    norms = cnn_code.norm(2, dim=1, keepdim=True) @ rnn_code.norm(2, dim=1, keepdim=True).t()
    scores = (cnn_code @ rnn_code.t()) / norms.clamp(min=eps) * gamma3
    mask = _class_mask(class_ids, batch, scores.device)
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    target = _labels(labels, batch, scores.device)
    return (torch.nn.functional.cross_entropy(scores, target),
            torch.nn.functional.cross_entropy(scores.t(), target))


def kl_loss(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL divergence of the conditioning-augmentation Gaussian from N(0, I), averaged over every element
    (``KL_loss`` of StackGAN and AttnGAN): ``mean(−½·(1 + logvar − μ² − exp(logvar)))``."""
    return torch.mean(-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()))


# ------------------------------------------------------------------- SEMA: semantic-distance adversarial loss
# Yuan et al., Semantic Distance Adversarial Learning for Text-to-Image Synthesis, IEEE TMM 2023. The authors'
# repository (yuanrr/SEMA@97b227e) has no training code, so this follows the paper's framework figure
# (framework.png there); the choices the paper leaves open are listed in the docstring.

__all__ += ["semantic_distance", "semantic_distance_adversarial_loss"]


def semantic_distance(a: torch.Tensor, b: torch.Tensor, kind: str = "cosine", eps: float = 1e-8) -> torch.Tensor:
    """Per-sample semantic distance of two batches of vectors, (B, ...) × (B, ...) → (B,).

    ``kind="cosine"``: ``1 − cos(a, b)`` in [0, 2] (the default: the DAMSM space compares by cosine);
    ``kind="euclidean"``: ``‖a − b‖₂``. Inputs are flattened per sample.
    """
    a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    if a.shape != b.shape:
        raise ValueError(f"semantic_distance: shapes {tuple(a.shape)} and {tuple(b.shape)} differ")
    if kind == "cosine":
        return 1.0 - _cosine(a, b, eps)
    if kind == "euclidean":
        return (a - b).norm(2, dim=1)
    raise ValueError(f"semantic_distance: kind must be 'cosine' or 'euclidean', got {kind!r}")


def semantic_distance_adversarial_loss(
    text: torch.Tensor, fake_redescription: torch.Tensor, real_redescription: "torch.Tensor | None" = None, *,
    role: str = "generator", fake_features: "torch.Tensor | None" = None,
    real_features: "torch.Tensor | None" = None, feature_weight: float = 1.0, distance: str = "cosine",
    margin: "float | None" = None,
) -> torch.Tensor:
    """SEMA's semantic-distance (SEM) adversarial objective, for the generator or for the redescriber.

    SEMA adds a *redescription module* R (an image-to-text network that maps an image back to the sentence
    space) and plays a game on semantic distances to the ground-truth sentence ``text``:

    * ``role="redescriber"`` (R's loss): pull the redescription of the real image towards the sentence and
      push that of the synthetic image away: ``SEM(R(x), t) − SEM(R(G(z, t)), t)``, or with ``margin`` the
      hinge ``SEM(R(x), t) + relu(margin − SEM(R(G(z, t)), t))``. Pass redescriptions of *detached* fakes.
    * ``role="generator"`` (G's loss): ``SEM(R(G(z, t)), t)``, plus, when ``fake_features`` and
      ``real_features`` (the feature extractor's codes of the synthetic and of the real image) are given,
      ``feature_weight · SEM(F(G(z, t)), F(x))`` with the real features detached (they are the target).

    The feature extractor itself is trained as a real/fake classifier with cross-entropy (a standard GAN
    loss, not part of this function). Every term is averaged over the batch.

    Choices the paper does not pin down (the code was never released): SEM is ``1 − cosine`` by default
    (``distance="euclidean"`` gives the L2 distance); R's "maximise SEM" term enters with weight 1 and no
    margin unless ``margin`` is set (with the cosine distance the term is bounded, so no margin is needed);
    the feature term has weight 1; fake and real features are paired by batch position (the real image of
    the same caption).

    Args:
        text: (B, D) ground-truth sentence embeddings.
        fake_redescription: (B, D) R's output for the synthetic images.
        real_redescription: (B, D) R's output for the real images (``role="redescriber"`` only).
        role: ``"generator"`` or ``"redescriber"``.
        fake_features, real_features: (B, ...) feature-extractor codes (generator only, optional).
        feature_weight: weight of the feature term.
        distance: ``"cosine"`` or ``"euclidean"`` (see :func:`semantic_distance`).
        margin: hinge margin of R's push term (``None``: no hinge).

    Returns a scalar loss.
    """
    if role == "generator":
        loss = semantic_distance(fake_redescription, text, distance).mean()
        if (fake_features is None) != (real_features is None):
            raise ValueError("semantic_distance_adversarial_loss: pass both fake_features and real_features, or neither")
        if fake_features is not None:
            loss = loss + feature_weight * semantic_distance(fake_features, real_features.detach(), distance).mean()
        return loss
    if role == "redescriber":
        if real_redescription is None:
            raise ValueError("semantic_distance_adversarial_loss: role='redescriber' needs real_redescription "
                             "(R's output for the real images)")
        pull = semantic_distance(real_redescription, text, distance)
        push = semantic_distance(fake_redescription, text, distance)
        push = -push if margin is None else torch.relu(margin - push)
        return (pull + push).mean()
    raise ValueError(f"semantic_distance_adversarial_loss: role must be 'generator' or 'redescriber', got {role!r}")


# ------------------------------------------------------------------------ SISGAN: pairwise ranking loss
# Kiros, Salakhutdinov & Zemel (2014) as trained in woozzu/dong_iccv_2017 train_text_embedding.py; MIT licence.

__all__ += ["pairwise_ranking_loss"]


def pairwise_ranking_loss(image_features: torch.Tensor, text_features: torch.Tensor,
                          margin: float = 0.2) -> torch.Tensor:
    """The symmetric hinge ranking loss of a visual-semantic embedding (Kiros et al.), SISGAN's VSE objective.

    Both (B, D) inputs are L2-normalised (no epsilon, as the original), ``s = x·vᵀ`` holds the cosine of every
    image-text pair and the matching pairs are on the diagonal. With ``d = diag(s)``:
    ``Σ_{i≠j} max(0, m − d_i + s_ij)`` (each image against the other texts) plus
    ``Σ_{i≠j} max(0, m − d_j + s_ij)`` (each text against the other images), divided by B. The original adds
    the diagonal too and subtracts it again (each diagonal term is exactly ``m``); the result is the same.
    """
    if image_features.dim() != 2 or image_features.shape != text_features.shape:
        raise ValueError(f"pairwise_ranking_loss: image and text features must both be (B, D), got "
                         f"{tuple(image_features.shape)} and {tuple(text_features.shape)}")
    x = image_features / image_features.norm(2, dim=1, keepdim=True)
    v = text_features / text_features.norm(2, dim=1, keepdim=True)
    scores = x @ v.t()
    diagonal = scores.diagonal()
    off = ~torch.eye(scores.shape[0], dtype=torch.bool, device=scores.device)
    for_images = torch.relu(margin - diagonal[:, None] + scores)[off]
    for_texts = torch.relu(margin - diagonal[None, :] + scores)[off]
    return (for_images.sum() + for_texts.sum()) / scores.shape[0]


# ------------------------------------------------------------------ DF-GAN / SSA-GAN: hinge loss and MA-GP
# tobran/DF-GAN code/lib/modules.py (2022, `train`, `MA_GP`) and code/main.py (2020); MIT licence.

__all__ += ["mismatched_pairs", "hinge_discriminator_loss", "hinge_generator_loss",
            "matching_aware_gradient_penalty"]


def mismatched_pairs(features: torch.Tensor, sentences: torch.Tensor, form: str = "2022"):
    """(features, sentences) pairs that do not match, as DF-GAN builds them from a batch.

    ``form="2022"``: the features rolled by one (``features[1:]`` then ``features[:1]``) against every
    sentence, B pairs. ``form="2020"`` (also SSA-GAN): ``features[:B−1]`` against ``sentences[1:]``, B − 1 pairs.
    """
    if form == "2022":
        return torch.cat((features[1:], features[:1]), 0), sentences
    if form == "2020":
        return features[:-1], sentences[1:]
    raise ValueError(f"mismatched_pairs: form must be '2022' or '2020', got {form!r}")


def hinge_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                             mismatch_logits: "torch.Tensor | None" = None):
    """DF-GAN's matching-aware hinge loss of D: ``mean(relu(1 − real)) + (mean(relu(1 + fake)) +
    mean(relu(1 + mismatch)))/2``; without ``mismatch_logits`` the plain hinge ``real + fake``.
    Returns ``(loss, {"real", "fake", "mismatch"})`` (the parts as detached tensors)."""
    real = torch.relu(1.0 - real_logits).mean()
    fake = torch.relu(1.0 + fake_logits).mean()
    if mismatch_logits is None:
        return real + fake, {"real": real.detach(), "fake": fake.detach()}
    mis = torch.relu(1.0 + mismatch_logits).mean()
    return real + (fake + mis) / 2.0, {"real": real.detach(), "fake": fake.detach(), "mismatch": mis.detach()}


def hinge_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """G's hinge loss in DF-GAN, SSA-GAN and SEMA: ``−mean(D(G(z, s), s))``."""
    return -fake_logits.mean()


def matching_aware_gradient_penalty(images: torch.Tensor, sentences: torch.Tensor, logits: torch.Tensor,
                                    k: float = 2.0, p: float = 6.0) -> torch.Tensor:
    """DF-GAN's MA-GP: ``k · mean(‖[∇ₓ D(x, s), ∇ₛ D(x, s)]‖₂ ^ p)`` on real, matching pairs (k 2, p 6).

    ``images`` and ``sentences`` must require grad and ``logits`` must have been computed from them
    (D and the condition head on the real images and their own sentences). The gradient is taken with
    ``create_graph=True`` so the penalty trains D. The 2022 code adds it to the hinge loss of the same step;
    the 2020 code (and SSA-GAN) runs it as a separate D step on a fresh forward — the formula is the same, so
    both forms use this function (see ``textgan.train.recipes`` ``dfgan`` and ``dfgan2020``).
    """
    if not (images.requires_grad and sentences.requires_grad):
        raise ValueError("matching_aware_gradient_penalty: images and sentences must require grad "
                         "(call .requires_grad_() on them before the discriminator runs)")
    grads = torch.autograd.grad(logits, (images, sentences), torch.ones_like(logits), create_graph=True)
    norm = torch.cat((grads[0].reshape(grads[0].shape[0], -1), grads[1].reshape(grads[1].shape[0], -1)), 1).norm(2, dim=1)
    return k * norm.pow(p).mean()


# ------------------------------------------- GAN-INT-CLS, StackGAN / AttnGAN BCE losses, SSA-GAN's DAMSM term
# reedscot/icml2016 main_cls_int.lua; the PyTorch ports (aelnouby/Text-to-Image-Synthesis trainer.py);
# hanzhanggit/StackGAN-Pytorch code/miscc/utils.py; taoxugit/AttnGAN code/miscc/losses.py; wtliao/text2image.

__all__ += ["matching_aware_bce_loss", "conditional_discriminator_loss", "conditional_generator_loss",
            "feature_matching_loss", "l1_loss", "damsm_generator_term"]


def _bce(x: torch.Tensor, target: float, from_logits: bool) -> torch.Tensor:
    t = torch.full_like(x, float(target))
    if from_logits:
        return torch.nn.functional.binary_cross_entropy_with_logits(x, t)
    return torch.nn.functional.binary_cross_entropy(x, t)


def matching_aware_bce_loss(real: torch.Tensor, wrong: torch.Tensor, fake: torch.Tensor, *, wrong_weight: float = 0.5,
                            fake_weight: float = 0.5, real_label: float = 1.0, from_logits: bool = False) -> torch.Tensor:
    """GAN-INT-CLS's matching-aware D loss: ``BCE(D(x, t), real_label) + wrong_weight·BCE(D(x, t̂), 0) +
    fake_weight·BCE(D(G(z, t), t), 0)`` for a real image with a mismatched caption ``t̂``.

    Defaults are the Lua original (cls_weight 0.5: weights 0.5 and 0.5, label 1); the PyTorch ports use
    ``wrong_weight=1, fake_weight=1, real_label=0.9`` (one-sided label smoothing). Inputs are D's
    probabilities (the authors' D ends in a sigmoid), or logits with ``from_logits``.
    """
    return (_bce(real, real_label, from_logits) + wrong_weight * _bce(wrong, 0.0, from_logits)
            + fake_weight * _bce(fake, 0.0, from_logits))


def conditional_discriminator_loss(real_cond: torch.Tensor, wrong_cond: torch.Tensor, fake_cond: torch.Tensor,
                                   real_uncond: "torch.Tensor | None" = None,
                                   fake_uncond: "torch.Tensor | None" = None, from_logits: bool = False) -> torch.Tensor:
    """StackGAN / AttnGAN D loss from the conditional (and unconditional) heads' probabilities.

    Conditional only (StackGAN Stage-I): ``BCE(real, 1) + (BCE(fake, 0) + BCE(wrong, 0))/2``. With the
    unconditional head (Stage-II, AttnGAN): ``(BCE(real, 1) + BCE(real_u, 1))/2 + (BCE(fake, 0) + BCE(wrong, 0)
    + BCE(fake_u, 0))/3``. ``wrong`` is the real features ``[:-1]`` against the sentences ``[1:]``.
    """
    if (real_uncond is None) != (fake_uncond is None):
        raise ValueError("conditional_discriminator_loss: give both real_uncond and fake_uncond, or neither")
    real, wrong, fake = (_bce(real_cond, 1.0, from_logits), _bce(wrong_cond, 0.0, from_logits),
                         _bce(fake_cond, 0.0, from_logits))
    if real_uncond is None:
        return real + (fake + wrong) / 2.0
    return ((real + _bce(real_uncond, 1.0, from_logits)) / 2.0
            + (fake + wrong + _bce(fake_uncond, 0.0, from_logits)) / 3.0)


def conditional_generator_loss(fake_cond: torch.Tensor, fake_uncond: "torch.Tensor | None" = None,
                               from_logits: bool = False) -> torch.Tensor:
    """StackGAN / AttnGAN G adversarial loss of one stage: ``BCE(D_cond(G), 1) [+ BCE(D_uncond(G), 1)]``
    (add ``2·kl_loss`` for StackGAN, ``kl_loss`` and :func:`damsm_generator_term` for AttnGAN)."""
    loss = _bce(fake_cond, 1.0, from_logits)
    return loss if fake_uncond is None else loss + _bce(fake_uncond, 1.0, from_logits)


def feature_matching_loss(fake_features: torch.Tensor, real_features: torch.Tensor) -> torch.Tensor:
    """The GAN-INT-CLS ports' feature matching: MSE between the batch means of D's intermediate features
    of the fakes and of the (detached) real images (weight ``l2_coef`` 100 there)."""
    return torch.nn.functional.mse_loss(fake_features.mean(0), real_features.detach().mean(0))


def l1_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean absolute pixel difference to the (detached) real image (the ports' ``l1_coef`` 50 term)."""
    return (fake - real.detach()).abs().mean()


def damsm_generator_term(region_features: torch.Tensor, global_features: torch.Tensor, words_emb: torch.Tensor,
                         sent_emb: torch.Tensor, cap_lens, class_ids=None, weight: float = 1.0,
                         gamma1: float = 4.0, gamma2: float = 5.0, gamma3: float = 10.0) -> torch.Tensor:
    """DAMSM loss of generated images for G: ``weight · (w0 + w1 + s0 + s1)``.

    ``region_features`` / ``global_features`` are the frozen DAMSM image encoder's outputs on the fakes,
    ``words_emb`` / ``sent_emb`` the (detached) text features. AttnGAN adds it with ``weight = LAMBDA``
    (5 birds, 50 COCO); SSA-GAN adds ``0.05 ·`` this with LAMBDA 1 and GAMMA1 5 (pass ``weight=0.05, gamma1=5``).
    """
    w0, w1, _ = damsm_words_loss(region_features, words_emb.detach(), cap_lens, class_ids=class_ids,
                                 gamma1=gamma1, gamma2=gamma2, gamma3=gamma3)
    s0, s1 = damsm_sentence_loss(global_features, sent_emb.detach(), class_ids=class_ids, gamma3=gamma3)
    return weight * (w0 + w1 + s0 + s1)
