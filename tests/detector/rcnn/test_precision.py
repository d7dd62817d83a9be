"""Detector precision: bf16 and int8 against fp32 on the same regions, an int8 calibration saved
and reloaded bit for bit, and one-line errors for what a device cannot run."""

import numpy as np
import pytest
import torch

from detector import Detector
from detector.data.images import to_tensor
from detector.errors import UserError
from detector.rcnn.precision import check_precision
from detector.rcnn.predict import build_detector, load_detector, load_detector_config
from tests.helpers import randomize_bn, tiny_detector_checkpoint, write_photo

pytestmark = pytest.mark.numerics  # compares code paths

BOXES = np.array([[2, 3, 40, 30], [10, 10, 60, 44], [0, 0, 64, 48], [30, 5, 62, 47], [5, 20, 30, 47]], np.float32)


@pytest.fixture(scope="module", params=["rcnn", "fast"])
def setup(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"prec_{request.param}")
    ckpt = tiny_detector_checkpoint(root / "det.pth", mode=request.param, classes=("a", "b", "c"))
    obj = torch.load(ckpt, weights_only=True)  # non-trivial BN statistics, so that folding matters

    model = build_detector(load_detector_config(ckpt), 3)
    model.load_state_dict(obj["model"])
    randomize_bn(model)
    obj["model"] = model.state_dict()
    torch.save(obj, ckpt)
    photos = []
    for k in range(3):
        photos.append(write_photo(root / f"p{k}.png", 48, 64, (10 + 5 * k, 10, 40, 35)))
    return ckpt, photos, root


def _scores(det, image):
    return det.ensemble.score(to_tensor(image), torch.from_numpy(BOXES))


def test_int8_is_close_to_fp32_and_reloads_bit_for_bit(setup):
    ckpt, photos, root = setup
    calib = [(torch.from_numpy(p).permute(2, 0, 1).float() / 255, torch.from_numpy(BOXES)) for p in photos]
    fp32 = Detector.load(ckpt, "cpu")
    mode = load_detector_config(ckpt).head.mode
    other = Detector.load(
        tiny_detector_checkpoint(root / "seed1.pth", mode=mode, classes=("a", "b", "c"), seed=1), "cpu"
    )

    member = load_detector(ckpt, torch.device("cpu"), precision="int8", calib=iter(calib))
    int8 = Detector([member], fp32.test)
    for p in photos:
        (pf, df), (pq, dq) = _scores(fp32, p), _scores(int8, p)
        # an untrained 22-layer network with random BN amplifies int8 rounding (a trained one kept
        # BCCD val mAP to the fourth digit): close, and far closer than another network's
        assert pq.shape == pf.shape and (pq - pf).abs().mean() < 0.1
        po, do = _scores(other, p)
        assert (pq - pf).abs().mean() < 0.5 * (pf - po).abs().mean()
        assert (dq - df).abs().mean() < 0.5 * (df - do).abs().mean()
    saved = int8.save_int8(root / "det.int8.pth")
    again = Detector.load(ckpt, "cpu", precision="int8", calib=saved)
    for p in photos:
        assert all(torch.equal(a, b) for a, b in zip(_scores(int8, p), _scores(again, p), strict=True))
    with pytest.raises(UserError, match="calibrated for"):
        Detector.load(tiny_detector_checkpoint(root / "other.pth"), "cpu", precision="int8", calib=saved)


def test_bf16_is_close_to_fp32(setup):
    ckpt, photos, _ = setup
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        with pytest.raises(UserError, match="lacks bfloat16 instructions"):
            Detector.load(ckpt, "cpu", precision="bf16")
        pytest.skip("this CPU has no bfloat16 instructions")
    fp32, bf16 = Detector.load(ckpt, "cpu"), Detector.load(ckpt, "cpu", precision="bf16")
    for p in photos:
        (pf, _), (pb, _) = _scores(fp32, p), _scores(bf16, p)
        assert pb.dtype == torch.float32 and 0 < (pb - pf).abs().max() < 0.05  # 8-bit mantissas: close, not equal


def test_precision_errors(setup, monkeypatch):
    ckpt, _, _ = setup
    with pytest.raises(UserError, match="precision 'fp16' is not one of fp32, bf16, int8"):
        Detector.load(ckpt, "cpu", precision="fp16")
    with pytest.raises(UserError, match="precision int8 needs a calibration"):
        Detector.load(ckpt, "cpu", precision="int8")
    with pytest.raises(UserError, match="2 checkpoints but 1 int8 calibration files"):
        Detector.load([ckpt, ckpt], "cpu", precision="int8", calib=["x.pth"])
    with pytest.raises(UserError, match="int8 runs on the CPU"):
        check_precision("int8", torch.device("cuda"))
    with pytest.raises(UserError, match="PyTorch's; onnxruntime scores in fp32"):
        Detector.load(ckpt, "cpu", precision="bf16", runtime="onnxruntime")
    with pytest.raises(UserError, match="compile goes with the folded fp32 or bf16 path, not int8"):
        Detector.load(ckpt, "cpu", precision="int8", calib="x.pth", compile=True)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    with pytest.raises(UserError, match="lacks bfloat16 instructions"):
        Detector.load(ckpt, "cpu", precision="bf16")
