"""Loading torchvision state dicts and our checkpoints; one-line errors for the wrong file."""

import pytest
import torch
import torchvision

from backbones import WeightsError, googlenet, load_weights
from detector.checkpoint import save_checkpoint
from tests.helpers import randomize_bn


def _random_torchvision(aux: bool = True, transform_input: bool = False, num_classes: int = 1000):
    """A torchvision googlenet with random weights and non-trivial BatchNorm statistics."""
    tv = torchvision.models.googlenet(
        weights=None, aux_logits=aux, init_weights=True, transform_input=transform_input, num_classes=num_classes
    )
    randomize_bn(tv)
    return tv.eval()


@pytest.fixture(scope="module")
def tv_file(tmp_path_factory):
    tv = _random_torchvision(aux=True)
    path = tmp_path_factory.mktemp("w") / "googlenet_tv.pth"
    torch.save(tv.state_dict(), path)
    return tv, path


@pytest.mark.parametrize("transform_input", [False, True])
def test_torchvision_state_dict_gives_same_logits(tv_file, transform_input):
    tv, path = tv_file
    tv.transform_input = transform_input
    ours = googlenet("bn", weights=str(path), transform_input=transform_input).eval()
    x = torch.randn(3, 3, 224, 224)
    with torch.no_grad():
        diff = (tv(x) - ours(x)).abs().max().item()
    assert diff < 1e-5


def test_no_missing_or_unexpected_keys(tv_file):
    tv, path = tv_file
    ours = googlenet("bn", aux_logits=True)
    transform = {"input_transform.order", "input_transform.scale", "input_transform.shift"}
    assert set(ours.state_dict()) == set(tv.state_dict()) | transform  # the input convention is ours alone
    no_aux = googlenet("bn", aux_logits=False)
    body = {k for k in tv.state_dict() if not k.startswith(("aux1.", "aux2."))}
    assert set(no_aux.state_dict()) == body | transform
    load_weights(no_aux, path)  # aux entries in the file are dropped
    assert torch.equal(no_aux.fc.weight, tv.fc.weight)


def test_file_without_aux_keeps_model_aux_heads(tmp_path):
    tv = _random_torchvision(aux=False)
    path = tmp_path / "noaux.pth"
    torch.save(tv.state_dict(), path)
    m = googlenet("bn", aux_logits=True)
    aux_before = m.aux1.fc1.weight.clone()
    load_weights(m, path)
    assert torch.equal(m.aux1.fc1.weight, aux_before)
    assert torch.equal(m.inception5b.branch1.conv.weight, tv.inception5b.branch1.conv.weight)


def test_ddp_prefix_and_our_checkpoint(tmp_path):
    src = googlenet("paper", num_classes=10)
    ddp = tmp_path / "ddp.pth"
    torch.save({f"module.{k}": v for k, v in src.state_dict().items()}, ddp)
    ckpt = save_checkpoint(tmp_path / "final.pth", src.state_dict(), {"model": {"variant": "paper"}}, epoch=3)
    for path in (ddp, ckpt):
        m = googlenet("paper", num_classes=10, weights=str(path))
        assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), src.state_dict().values(), strict=True))


def test_ignore_head_loads_backbone_for_other_classes(tv_file):
    tv, path = tv_file
    m = googlenet("bn", num_classes=21)
    load_weights(m, path, ignore_head=True)
    assert m.fc.weight.shape == (21, 1024)
    assert torch.equal(m.conv1.conv.weight, tv.conv1.conv.weight)


def test_ignore_head_takes_the_trunk_of_a_detector_checkpoint(tmp_path):
    from detector.classify.multicrop import load_classifier
    from detector.rcnn.model import HeadConfig, RegionDetector

    det = RegionDetector(randomize_bn(googlenet("bn", aux_logits=False)), 7, HeadConfig())
    path = save_checkpoint(tmp_path / "det.pth", det.state_dict(), {"model": {"variant": "bn"}}, class_names=["a"])
    m = googlenet("bn", num_classes=21)
    load_weights(m, path, ignore_head=True)
    trunk = det.backbone.state_dict()
    assert trunk and all(torch.equal(m.state_dict()[k], v) for k, v in trunk.items())
    with pytest.raises(WeightsError) as err:  # as a classifier it lacks the fc layer: refused
        load_weights(googlenet("bn", num_classes=21), path)
    assert "is a detector or MultiBox checkpoint" in _one_line(err, path)
    with pytest.raises(WeightsError) as err:  # eval_cls's loader says so before reading the config
        load_classifier(path, torch.device("cpu"))
    assert "not a classifier" in _one_line(err, path)


def _one_line(err: pytest.ExceptionInfo, path) -> str:
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_error_missing_file(tmp_path):
    with pytest.raises(WeightsError) as err:
        googlenet("bn", weights=str(tmp_path / "none.pth"))
    assert "not found" in _one_line(err, tmp_path / "none.pth")


def test_error_not_a_torch_file(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(WeightsError) as err:
        googlenet("bn", weights=str(bad))
    msg = _one_line(err, bad)
    assert "weights_only=True" in msg and "PyTorch 2.6" not in msg  # the cause, not torch's advice


def test_error_truncated_file(tmp_path):
    good, bad = tmp_path / "good.pth", tmp_path / "cut.pth"
    torch.save({"a": torch.zeros(100)}, good)
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(WeightsError) as err:
        googlenet("bn", weights=str(bad))
    msg = _one_line(err, bad)
    assert msg.endswith("(PytorchStreamReader failed reading zip archive: failed finding central directory)")


def test_error_pickled_module_is_refused(tmp_path):
    bad = tmp_path / "module.pth"
    torch.save(torch.nn.Linear(2, 2), bad)  # a whole module: needs unsafe unpickling
    with pytest.raises(WeightsError) as err:
        googlenet("bn", weights=str(bad))
    msg = _one_line(err, bad)
    assert "Unsupported global: GLOBAL torch.nn.modules.linear.Linear" in msg
    assert "weights_only` set to `False`" not in msg  # torch's advice to load unsafely is not repeated


def test_error_not_a_state_dict(tmp_path):
    bad = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), bad)
    with pytest.raises(WeightsError) as err:
        googlenet("bn", weights=str(bad))
    assert "expected a state dict" in _one_line(err, bad)


def test_error_wrong_variant(tv_file, tmp_path):
    _, path = tv_file
    with pytest.raises(WeightsError) as err:
        googlenet("paper", weights=str(path))
    assert "'bn' variant" in _one_line(err, path)
    paper = tmp_path / "paper.pth"
    torch.save(googlenet("paper").state_dict(), paper)
    with pytest.raises(WeightsError) as err:
        googlenet("bn", weights=str(paper))
    assert "'paper' variant" in _one_line(err, paper)


def test_error_wrong_number_of_classes(tv_file):
    _, path = tv_file
    with pytest.raises(WeightsError) as err:
        googlenet("bn", num_classes=10, weights=str(path))
    msg = _one_line(err, path)
    assert "1000 classes" in msg and "num_classes=10" in msg


def test_error_missing_keys(tv_file, tmp_path):
    tv, _ = tv_file
    sd = tv.state_dict()
    del sd["inception4c.branch2.1.conv.weight"]
    sd["extra.weight"] = torch.zeros(1)
    bad = tmp_path / "partial.pth"
    torch.save(sd, bad)
    with pytest.raises(WeightsError) as err:
        googlenet("bn", weights=str(bad))
    msg = _one_line(err, bad)
    assert "1 missing keys (inception4c.branch2.1.conv.weight)" in msg and "1 unexpected keys (extra.weight)" in msg
