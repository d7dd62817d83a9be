"""The fast inference path gives the model's logits and features."""

import pytest
import torch

from backbones import for_inference, googlenet
from backbones.inference import MergedInception
from tests.helpers import assert_same_function, randomize_bn

pytestmark = pytest.mark.numerics  # every test here compares two code paths or trains


@pytest.mark.parametrize("variant", ["paper", "bn"])
@pytest.mark.parametrize("size", [224, 160])
@pytest.mark.parametrize("merge", [True, False])
def test_same_logits(variant, size, merge):
    model = randomize_bn(googlenet(variant, num_classes=50)).eval()
    fast = for_inference(model, merge=merge)
    assert any(isinstance(m, MergedInception) for m in fast.modules()) == merge
    x = torch.randn(4, 3, size, size)
    with torch.inference_mode():
        ref, got = model(x), fast(x)
    assert got.shape == ref.shape == (4, 50)
    assert_same_function(got, ref, layers=22, what="logits")  # BN folded, 1x1s merged, channels_last


def test_structure_and_original_untouched():
    model = googlenet("bn").train()
    fast = for_inference(model)
    assert model.training and model.aux1 is not None and model.conv1.bn is not None
    assert not fast.training
    net = fast.net
    assert net.aux1 is None and net.conv1.bn is None
    assert isinstance(net.inception4e, MergedInception)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert net.inception4e.reduce.weight.is_contiguous(memory_format=torch.channels_last)
    assert not any(p.requires_grad for p in fast.parameters())


def test_features_match():
    model = randomize_bn(googlenet("bn")).eval()
    fast = for_inference(model)
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        ref = model.forward_features(x, ("inception_4e", "inception_5b"))
        got = fast.forward_features(x, ("inception_4e", "inception_5b"))
    for k in ref:
        assert got[k].shape == ref[k].shape
        assert_same_function(got[k], ref[k], layers=22, what=k)  # BN folded, 1x1s merged, channels_last
    assert [f.name for f in fast.feature_info] == [f.name for f in model.feature_info]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_inference_path():
    model = randomize_bn(googlenet("bn")).eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        ref = model(x)
        got = for_inference(model).cuda()(x.cuda()).cpu()
    assert torch.allclose(got, ref, atol=1e-3, rtol=1e-3)


def test_int8_trunk_agrees_with_fp32_and_reloads_bit_for_bit():
    import io

    from backbones.quantize import int8_state, load_int8, quantize_int8

    torch.manual_seed(0)
    model = randomize_bn(googlenet("bn", num_classes=10, aux_logits=False)).eval()
    calib = [torch.randn(8, 3, 96, 96) for _ in range(3)]
    q = quantize_int8(model, {(None, "inception_5b"): calib})
    x = torch.randn(16, 3, 96, 96)
    with torch.inference_mode():
        ref, got = model(x), q(x)
    assert got.dtype == torch.float32 and got.shape == ref.shape
    assert (got - ref).abs().mean() < 0.1 * ref.abs().mean()  # int8 rounding through 22 layers
    assert sum("Quantized" in type(m).__name__ or "quantized" in type(m).__module__ for m in q.modules()) >= 57
    buf = io.BytesIO()
    torch.save(int8_state(q), buf)
    buf.seek(0)
    again = load_int8(model, torch.load(buf, weights_only=True))
    with torch.inference_mode():
        assert torch.equal(again(x), got)
    with pytest.raises(KeyError, match="no int8 segment inception_3b-inception_5b"):
        q.forward_from(x, "inception_3b")


@pytest.mark.compile
def test_compiled_path_gives_the_same_outputs_for_any_batch():
    model = randomize_bn(googlenet("bn", num_classes=7, aux_logits=False)).eval()
    eager, compiled = for_inference(model), for_inference(model, compile=True)
    with torch.inference_mode():
        for n in (3, 5):  # a dynamic batch dimension: the second size reuses the first compilation
            x = torch.randn(n, 3, 48, 48)
            torch.testing.assert_close(compiled(x), eager(x), rtol=1e-4, atol=1e-4)
            torch.testing.assert_close(
                compiled.forward_features(x, ("inception_4e",))["inception_4e"],
                eager.forward_features(x, ("inception_4e",))["inception_4e"], rtol=1e-4, atol=1e-4,
            )  # fmt: skip
