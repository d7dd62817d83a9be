"""Structure, shapes and training behaviour of both GoogLeNet variants."""

import pytest
import torch
from torch import nn

from backbones import TAPS, GoogLeNetOutputs, aux_loss_weighted, googlenet
from backbones.googlenet import INCEPTION_SPECS


def _dense_inception_params(cin, c1, c3r, c3, c5r, c5, proj, k5, bias):
    w = cin * c1 + cin * c3r + c3r * c3 * 9 + cin * c5r + c5r * c5 * k5 * k5 + cin * proj
    return w + (c1 + c3r + c3 + c5r + c5 + proj if bias else 0)


def _dense_bn_params(cin, c1, c3r, c3, c5r, c5, proj):
    # bias-free convs plus BN gamma/beta per output channel
    return _dense_inception_params(cin, c1, c3r, c3, c5r, c5, proj, 3, False) + 2 * (c1 + c3r + c3 + c5r + c5 + proj)


def test_bn_param_count_matches_torchvision_release():
    m = googlenet("bn", aux_logits=False)
    assert sum(p.numel() for p in m.parameters()) == 6_624_904


def test_paper_param_count_from_table1_columns():
    m = googlenet("paper", aux_logits=False)
    expected = (7 * 7 * 3 * 64 + 64) + (64 * 64 + 64) + (64 * 192 * 9 + 192) + (1024 * 1000 + 1000)
    expected += sum(_dense_inception_params(*spec, 5, True) for spec in INCEPTION_SPECS.values())
    assert sum(p.numel() for p in m.parameters()) == expected == 6_998_552


def test_bn_inception_params_independent_count():
    m = googlenet("bn", aux_logits=False)
    for name, spec in INCEPTION_SPECS.items():
        assert sum(p.numel() for p in getattr(m, name).parameters()) == _dense_bn_params(*spec)


def test_paper_structure_follows_table1():
    m = googlenet("paper")
    convs = [mod for mod in m.modules() if isinstance(mod, nn.Conv2d)]
    assert all(c.bias is not None for c in convs)
    assert not any(isinstance(mod, nn.BatchNorm2d) for mod in m.modules())
    assert sum(isinstance(mod, nn.LocalResponseNorm) for mod in m.modules()) == 2
    assert m.inception3a.branch3[1].conv.kernel_size == (5, 5)
    assert m.maxpool4.kernel_size == 3 and m.maxpool4.stride == 2
    assert m.dropout.p == pytest.approx(0.4) and m.aux1.dropout.p == pytest.approx(0.7)
    assert m.aux1.conv.conv.out_channels == 128 and m.aux1.fc1.out_features == 1024
    bn = googlenet("bn")
    assert bn.inception3a.branch3[1].conv.kernel_size == (3, 3)
    assert bn.maxpool4.kernel_size == 2 and bn.dropout.p == pytest.approx(0.2)
    assert not any(isinstance(mod, nn.LocalResponseNorm) for mod in bn.modules())


@pytest.mark.parametrize("variant", ["paper", "bn"])
@pytest.mark.parametrize("size", [(224, 224), (256, 320), (160, 160), (64, 64)])
def test_eval_output_shape(variant, size):
    m = googlenet(variant, num_classes=7).eval()
    with torch.no_grad():
        out = m(torch.randn(2, 3, *size))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 7)


@pytest.mark.parametrize("variant", ["paper", "bn"])
@pytest.mark.parametrize("size", [224, 96])
def test_training_mode_returns_main_and_aux(variant, size):
    m = googlenet(variant, num_classes=5).train()
    out = m(torch.randn(2, 3, size, size))
    assert isinstance(out, GoogLeNetOutputs)
    assert out.logits.shape == out.aux1.shape == out.aux2.shape == (2, 5)
    no_aux = googlenet(variant, num_classes=5, aux_logits=False).train()
    assert isinstance(no_aux(torch.randn(2, 3, size, size)), torch.Tensor)


def test_paper_aux_pool_is_5x5_stride3_to_4x4():
    m = googlenet("paper").eval()
    seen = {}

    def hook(mod, inputs, output):
        seen["in"] = inputs[0].shape

    m.aux1.conv.register_forward_hook(hook)
    m.train()
    x = torch.randn(1, 3, 224, 224)
    feats = m.forward_features(x, ("inception_4a",))["inception_4a"]
    m.aux1(feats)
    assert seen["in"] == (1, 512, 4, 4)
    expected = torch.nn.functional.avg_pool2d(feats, 5, 3)
    assert torch.allclose(m.aux1.conv.conv(expected).relu(), m.aux1.conv(expected))


@pytest.mark.parametrize("variant", ["paper", "bn"])
def test_feature_taps_channels_and_strides(variant):
    m = googlenet(variant).eval()
    info = {f.name: f for f in m.feature_info}
    assert tuple(info) == TAPS  # the list configs are checked against before a model exists
    assert (info["inception_4e"].channels, info["inception_4e"].stride) == (832, 16)
    assert (info["inception_5b"].channels, info["inception_5b"].stride) == (1024, 32)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        feats = m.forward_features(x, ("inception_3b", "inception_4e", "inception_5b"))
        logits = m.forward_head(feats["inception_5b"])
        assert torch.equal(logits, m(x))  # forward is forward_features then forward_head
    assert feats["inception_3b"].shape == (1, 480, 28, 28)
    assert feats["inception_4e"].shape == (1, 832, 14, 14)
    assert feats["inception_5b"].shape == (1, 1024, 7, 7)
    with pytest.raises(KeyError, match="inception_9z"):
        m.forward_features(x, ("inception_9z",))


def test_unknown_variant():
    with pytest.raises(ValueError, match="unknown googlenet variant"):
        googlenet("resnet")


@pytest.mark.parametrize(("variant", "ratio"), [("paper", 0.85), ("bn", 0.5)])
def test_training_steps_lower_the_loss(variant, ratio):
    # dropout off so the loss is a deterministic function of the weights; aux heads on
    torch.manual_seed(0)
    m = googlenet(variant, num_classes=4, dropout=0.0, dropout_aux=0.0).train()
    x, y = torch.randn(8, 3, 96, 96), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    opt = torch.optim.Adam(m.parameters(), lr=1e-4)
    losses = []
    for _ in range(8):
        loss = aux_loss_weighted(m(x), y, 0.3)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < ratio * losses[0], losses


def test_aux_loss_weighting():
    y = torch.tensor([1, 0])
    a, b, c = torch.randn(2, 3), torch.randn(2, 3), torch.randn(2, 3)
    ce = torch.nn.functional.cross_entropy
    got = aux_loss_weighted(GoogLeNetOutputs(a, b, c), y, 0.3)
    assert torch.allclose(got, ce(a, y) + 0.3 * ce(b, y) + 0.3 * ce(c, y))
    assert torch.allclose(aux_loss_weighted(a, y), ce(a, y))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("variant", ["paper", "bn"])
def test_cuda_matches_cpu(variant):
    m = googlenet(variant).eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        cpu = m(x)
        gpu = m.cuda()(x.cuda()).cpu()
    assert torch.allclose(cpu, gpu, atol=1e-3, rtol=1e-3)
