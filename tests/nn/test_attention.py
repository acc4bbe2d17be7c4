"""WordAttention (AttnGAN GlobalAttentionGeneral), its mask broadcast, DAMSM attention and conditioning augmentation."""
import pytest
import torch

from textgan.nn import ConditioningAugmentation, WordAttention, damsm_attention
from textgan.nn.attention import expand_word_mask
from textgan.nn.conditioning import CA_VARIANTS


def _batch(lengths, idf=4, cdf=5, h=3, w=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(max(lengths))[None] >= torch.tensor(lengths)[:, None]
    context = torch.randn(len(lengths), cdf, max(lengths), generator=g).masked_fill(mask[:, None], 0.0)
    return torch.randn(len(lengths), idf, h, w, generator=g), context, mask


def test_official_mask_broadcast_is_the_repeat_of_the_original():
    mask = torch.tensor([[False, False, True], [False, True, True], [False, False, False]])
    queries = 5
    got = expand_word_mask(mask, queries, "official")
    # the authors: mask.repeat(Q, 1) laid against logits rows ordered b*Q + q
    want = mask.repeat(queries, 1).view(3, queries, 3)
    assert torch.equal(got, want)
    for b in range(3):
        for q in range(queries):
            assert torch.equal(got[b, q], mask[(b * queries + q) % 3])
    assert torch.equal(expand_word_mask(mask, queries, "per_sample"), mask[:, None].expand(3, queries, 3))
    with pytest.raises(ValueError, match="mask_broadcast"):
        expand_word_mask(mask, queries, "nope")


def test_per_sample_masking_gives_padding_no_attention_and_no_batch_dependence():
    att = WordAttention(4, 5, mask_broadcast="per_sample")
    query, context, mask = _batch([3, 1, 2])
    weighted, attn = att(query, context, mask)
    assert attn.shape == (3, 3, 3, 2) and weighted.shape == (3, 4, 3, 2)
    torch.testing.assert_close(attn.sum(1), torch.ones(3, 3, 2))
    assert attn[1, 1:].abs().max() == 0 and attn[2, 2:].abs().max() == 0
    alone_w, alone_a = att(query[1:2], context[1:2, :, :1], mask[1:2, :1])
    torch.testing.assert_close(weighted[1:2], alone_w)
    torch.testing.assert_close(attn[1:2, :1], alone_a)


def test_official_broadcast_depends_on_batch_mates_and_agrees_when_it_cannot_matter():
    att = WordAttention(4, 5)
    assert att.mask_broadcast == "official"
    query, context, mask = _batch([3, 1, 2])
    official = att(query, context, mask)[1]
    assert official[1, 1:].abs().max() > 0  # padded words of the short caption are attended
    corrected = att(query, context, mask, mask_broadcast="per_sample")[1]
    assert not torch.allclose(official, corrected)
    # batch of one, or captions of equal length: the two agree
    for q, c, m in ((query[:1], context[:1], mask[:1]), _batch([2, 2, 2])):
        torch.testing.assert_close(att(q, c, m)[1], att(q, c, m, mask_broadcast="per_sample")[1])
    # no mask: plain softmax over all words
    torch.testing.assert_close(att(query, context)[1], att(query, context, torch.zeros_like(mask))[1])


def test_fast_path_equals_the_step_by_step_path():
    att = WordAttention(4, 5)
    query, context, mask = _batch([3, 1, 2], h=4, w=5)
    for mode in ("official", "per_sample"):
        a = att(query, context, mask, mode)
        for q in (query, query.contiguous(memory_format=torch.channels_last)):
            b = att(q, context, mask, mode, exact=False)
            for x, y in zip(a, b):
                torch.testing.assert_close(y, x, atol=1e-6, rtol=1e-5)


def test_attention_errors_name_the_argument():
    att = WordAttention(4, 5)
    query, context, mask = _batch([3, 1])
    with pytest.raises(ValueError, match="all padding"):
        att(query, context, torch.ones_like(mask))
    with pytest.raises(ValueError, match="mask must be"):
        att(query, context, mask[:, :2])
    with pytest.raises(ValueError, match="context must be"):
        att(query, context[:, :3], mask)
    with pytest.raises(ValueError, match="query has 3 channels"):
        att(query[:, :3], context, mask)
    with pytest.raises(ValueError, match="mask_broadcast"):
        WordAttention(4, 5, mask_broadcast="sometimes")


def test_damsm_attention_is_two_softmaxes():
    g = torch.Generator().manual_seed(0)
    words, regions = torch.randn(2, 6, 4, generator=g), torch.randn(2, 6, 3, 3, generator=g)
    weighted, attn = damsm_attention(words, regions, gamma1=4.0)
    scores = torch.einsum("bdr,bdn->brn", regions.flatten(2), words)  # (B, regions, words)
    ref = torch.softmax(4.0 * torch.softmax(scores, dim=2).transpose(1, 2), dim=2)
    torch.testing.assert_close(attn.flatten(2), ref)
    torch.testing.assert_close(weighted, torch.einsum("bdr,bnr->bdn", regions.flatten(2), ref))
    torch.testing.assert_close(attn.sum((2, 3)), torch.ones(2, 4))


# ------------------------------------------------------------------------ conditioning augmentation


def test_glu_conditioning_augmentation_has_the_authors_layout_and_noise_control():
    ca = ConditioningAugmentation(8, 3, variant="glu")
    assert ca.fc.weight.shape == (12, 8) and ca.fc.bias.shape == (12,)
    x = torch.randn(5, 8)
    h = ca.fc(x)
    mu, logvar = ca.encode(x)
    torch.testing.assert_close(torch.cat((mu, logvar), 1), h[:, :6] * torch.sigmoid(h[:, 6:]))
    eps = torch.randn(5, 3)
    c, mu2, logvar2 = ca(x, eps)
    torch.testing.assert_close(c, mu + eps * torch.exp(0.5 * logvar))
    a = ca(x, generator=torch.Generator().manual_seed(3))[0]
    b = ca(x, generator=torch.Generator().manual_seed(3))[0]
    assert torch.equal(a, b) and not torch.equal(a, ca(x, generator=torch.Generator().manual_seed(4))[0])
    ca.eval()  # noise is drawn in evaluation mode too, as in the original
    assert not torch.equal(ca(x)[0], ca(x)[0])
    with pytest.raises(ValueError, match="eps must have the shape"):
        ca(x, torch.randn(5, 2))
    with pytest.raises(ValueError, match="text_embedding must be"):
        ca(torch.randn(5, 7))


def test_variants_are_a_table():
    assert set(CA_VARIANTS) >= {"glu", "relu"}
    relu = ConditioningAugmentation(8, 3, variant="relu")
    assert relu.fc.weight.shape == (6, 8)
    mu, logvar = relu.encode(torch.randn(4, 8))
    assert (mu >= 0).all() and (logvar >= 0).all()  # StackGAN v1's ReLU before the split
    assert ConditioningAugmentation.infer_sizes((400, 256), "glu") == (256, 100)
    with pytest.raises(ValueError, match="variant must be one of"):
        ConditioningAugmentation(8, 3, variant="tanh")
