"""The Python API: Detector (inputs of every kind, lists, proposals from the call, a cache or
computed, load options, whole splits) and its Result; Classifier (train_cls checkpoints and
torchvision weights, 1/10/144 crops, names from the class index)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from backbones import googlenet
from detector import Classifier, Detector, Result
from detector.api.classifier import imagenet_class_names
from detector.classify.crops import crops as crop_image
from detector.data.images import read_image, to_tensor
from detector.errors import UserError
from detector.proposals.cache import ProposalCache
from detector.proposals.selective_search import SelectiveSearchConfig, selective_search
from detector.rcnn.data import clean_proposals
from detector.rcnn.ensemble import Ensemble
from detector.rcnn.predict import load_detector
from tests.detector.eval.conftest import make_voc_dataset
from tests.helpers import assert_same_function, randomize_bn, tiny_detector_checkpoint, write_photo

pytestmark = pytest.mark.numerics  # every test here compares two code paths or trains

PROPOSALS = np.array([[2, 3, 40, 30], [10, 10, 60, 44], [0, 0, 64, 48], [30, 5, 62, 47]], np.float32)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    return [tiny_detector_checkpoint(root / f"det{s}.pth", seed=s, classes=("a", "b", "c")) for s in (0, 1)]


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    return path, write_photo(path, 48, 64, (10, 10, 40, 35))


def test_result_equals_the_ensemble_on_the_same_proposals(ckpts, photo):
    path, img = photo
    det = Detector.load(ckpts, "cpu", score_thresh=0.0, max_dets=7)
    r = det(path, proposals=PROPOSALS)
    members = [load_detector(c, torch.device("cpu")) for c in ckpts]
    want = Ensemble(members, det.test).detect(
        to_tensor(img), torch.from_numpy(clean_proposals(PROPOSALS, 64, 48, 2000))
    )
    assert isinstance(r, Result) and len(r) == len(want) > 0 and len(r) <= 7 and r.num_proposals == 4
    np.testing.assert_array_equal(r.boxes, want.boxes.numpy())  # the API runs the same ensemble
    np.testing.assert_array_equal(r.labels, want.labels.numpy())
    assert (
        r.boxes.dtype == np.float32
        and r.labels.dtype == np.int64
        and r.names == [["a", "b", "c"][k - 1] for k in r.labels]
    )
    assert (r.width, r.height, r.path) == (64, 48, str(path))


def test_every_input_kind_gives_the_same_detections(ckpts, photo):
    path, img = photo
    det = Detector.load(ckpts[0], "cpu", score_thresh=0.0)
    ref = det(path, proposals=PROPOSALS)
    for x in (img, Image.fromarray(img), torch.from_numpy(img).permute(2, 0, 1),
              torch.from_numpy(img).permute(2, 0, 1).float() / 255, img.astype(np.float32) / 255):  # fmt: skip
        r = det(x, proposals=PROPOSALS)
        # x / 255 in float32 against the reference's uint8 conversion: inputs within an ulp
        assert_same_function(r.scores, ref.scores, layers=22, what="scores")
        assert_same_function(r.boxes, ref.boxes, layers=22, what="boxes")
    grey = det(img[:, :, 0], proposals=PROPOSALS)  # [H, W] grey: three equal channels
    assert grey.image.shape == (48, 64, 3) and (grey.image[:, :, 0] == grey.image[:, :, 2]).all()
    many = det([path, img], proposals=[PROPOSALS, PROPOSALS[:2]])
    assert isinstance(many, list) and [m.num_proposals for m in many] == [4, 2]
    with pytest.raises(UserError, match="2 images but 1 proposal sets"):
        det([path, img], proposals=[PROPOSALS])


def test_proposals_come_from_the_cache_by_stem_else_are_computed(ckpts, photo, tmp_path):
    path, img = photo
    cache = ProposalCache(tmp_path / "cache")
    cache.put("photo", PROPOSALS[:3], source=path)
    det = Detector.load(ckpts[0], "cpu", score_thresh=0.0, proposals=tmp_path / "cache")
    assert det(path).num_proposals == 3  # the cached boxes
    computed = clean_proposals(selective_search(img, SelectiveSearchConfig(resize_width=None)), 64, 48, 2000)
    assert det(img).num_proposals == len(computed) > 3  # an array has no stem: computed with the config's method


def test_to_coco_draw_save_and_rows(ckpts, photo, tmp_path):
    path, img = photo
    r = Detector.load(ckpts[0], "cpu", score_thresh=0.0, max_dets=3)(path, proposals=PROPOSALS)
    coco = r.to_coco(42, category_ids=[7, 8, 9])
    assert [c["category_id"] for c in coco] == [[7, 8, 9][k - 1] for k in r.labels]
    x, y, w, h = coco[0]["bbox"]
    np.testing.assert_allclose([x, y, x + w, y + h], r.boxes[0], atol=1e-5)
    assert coco[0]["image_id"] == 42 and coco[0]["score"] == pytest.approx(float(r.scores[0]))
    drawn = r.draw()
    assert drawn.shape == img.shape and drawn.dtype == np.uint8 and (drawn != img).any() and (r.image == img).all()
    saved = r.save(tmp_path / "out" / "p.png")
    assert (read_image(saved) == drawn).all()
    json.dumps(r.rows())  # plain data


def test_load_options_and_errors(ckpts, tmp_path):
    det = Detector.load(ckpts[0], "cpu")
    assert det.test.score_thresh == 0.01 and det.class_names == ["a", "b", "c"] and det.device.type == "cpu"
    assert Detector.load(ckpts[0], "cpu", score_thresh=0.7, max_dets=3).test.max_dets == 3
    for kwargs, message in [
        ({"runtime": "tensorrt"}, "runtime 'tensorrt' is not available"),
        ({"score_thresh": 1.5}, r"score_thresh must be a probability in \[0, 1\]"),
        ({"max_dets": 0}, "max_dets must be at least 1"),
        ({"max_proposals": 0}, "max_proposals must be at least 1"),
        ({"device": "tpu"}, "device 'tpu': expected"),
    ]:
        with pytest.raises(UserError, match=message):
            Detector.load(ckpts[0], **kwargs)
    with pytest.raises(UserError, match="needs at least one checkpoint"):
        Detector.load([])
    with pytest.raises(UserError, match="nope.pth: detector checkpoint not found"):
        Detector.load(tmp_path / "nope.pth")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA device"):
            Detector.load(ckpts[0], "cuda")


def test_max_proposals_scores_the_first_n_in_rank_order(ckpts, photo):
    path, _ = photo
    two = Detector.load(ckpts[0], "cpu", score_thresh=0.0, max_proposals=2)
    assert two.test.max_proposals == 2
    r = two(path, proposals=PROPOSALS)
    want = Detector.load(ckpts[0], "cpu", score_thresh=0.0)(path, proposals=PROPOSALS[:2])
    assert r.num_proposals == 2 and len(r) > 0
    np.testing.assert_array_equal(r.boxes, want.boxes)
    np.testing.assert_array_equal(r.scores, want.scores)


def test_detect_split_and_evaluate(ckpts, photo, tmp_path):
    path, _ = photo
    ds = make_voc_dataset({"photo": [("b", 11, 11, 41, 36, 0)]}, ["a", "b", "c"])
    ds.records[0].file, ds.records[0].width, ds.records[0].height = path, 64, 48
    det = Detector.load(ckpts[0], "cpu")
    ev, split = det.evaluate(ds, "voc", proposals=tmp_path / "props", progress=False)
    assert split.failed == [] and ev.report["num_detections"] == len(split.results) > 0
    single = det(path)  # the same proposals (computed into the cache): the same detections, 1-based XML boxes
    assert len(single) == len(split.results)
    assert sorted(d["score"] for d in split.results) == pytest.approx(sorted(single.scores.tolist()), abs=1e-6)
    with pytest.raises(UserError, match="needs a proposal cache folder"):
        det.detect_split(ds)


@pytest.fixture(scope="module")
def torchvision_weights(tmp_path_factory):
    torch.manual_seed(0)
    model = randomize_bn(googlenet("bn", 1000, aux_logits=False, transform_input=True))
    path = tmp_path_factory.mktemp("tv") / "googlenet-tv.pth"
    torch.save(model.state_dict(), path)
    return path, model.eval()


@pytest.mark.slow
def test_classifier_on_torchvision_weights_names_imagenet_classes(torchvision_weights, photo):
    path, model = torchvision_weights
    clf = Classifier.load(path, "cpu")
    assert len(clf.class_names) == 1000 and clf.class_names[:2] == ["tench", "goldfish"]
    c = clf(photo[0], crops=1, topk=5)
    assert len(c.names) == 5 and (np.diff(c.probs) <= 0).all() and c.names[0] == clf.class_names[c.indices[0]]
    with torch.no_grad():  # independently: the centre crop through the model itself
        x = crop_image(to_tensor(photo[1]), 1, 224, 256)
        want = model(x).softmax(1)[0]
    assert_same_function(c.probs, want.topk(5).values, layers=22, what="top-5")  # BN folded for inference
    for scheme, n in ((10, 10), (144, 144)):
        p = clf.probabilities(photo[1], crops=scheme)
        assert p.shape == (1000,) and abs(float(p.sum()) - 1) < 1e-4
        assert crop_image(to_tensor(photo[1]), scheme, 224, 256).shape[0] == n
    with pytest.raises(UserError, match=r"crops must be one of \(1, 10, 144\)"):
        clf(photo[1], crops=5)


def test_class_index_file(tmp_path):
    index = {str(i): [f"n{i:08d}", f"name_{i}"] for i in range(1000)}
    (tmp_path / "index.json").write_text(json.dumps(index))
    assert imagenet_class_names(tmp_path / "index.json")[999] == "name_999"
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(UserError, match="not a class index"):
        imagenet_class_names(tmp_path / "bad.json")


def test_classifier_errors_are_user_errors(tmp_path, ckpts):
    with pytest.raises(UserError, match="none.pth: checkpoint not found"):
        Classifier.load(tmp_path / "none.pth")
    with pytest.raises(UserError, match="is a detector or MultiBox checkpoint, not a classifier"):
        Classifier.load(ckpts[0])


def test_classifier_precisions(torchvision_weights, photo, tmp_path):
    path, _ = torchvision_weights
    folder = tmp_path / "calib" / "any"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(6):  # calibration images: noise around the photo's colours
        Image.fromarray(np.clip(photo[1] + rng.normal(0, 20, photo[1].shape), 0, 255).astype(np.uint8)).save(
            folder / f"{k}.png"
        )
    ref = Classifier.load(path, "cpu").probabilities(photo[1])
    int8 = Classifier.load(path, "cpu", precision="int8", calib=folder.parent)
    got = int8.probabilities(photo[1])
    # int8 rounding through 22 layers of a random network: the distribution, not the digits
    assert abs(float(got.sum()) - 1) < 1e-4 and 0.5 * (got - ref).abs().sum() < 0.25
    saved = int8.save_int8(tmp_path / "cls.int8.pth")
    again = Classifier.load(path, "cpu", precision="int8", calib=saved)
    assert torch.equal(again.probabilities(photo[1]), got)
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        bf = Classifier.load(path, "cpu", precision="bf16").probabilities(photo[1])
        assert 0 < 0.5 * (bf - ref).abs().sum() < 0.1
    with pytest.raises(UserError, match="precision int8 needs a calibration"):
        Classifier.load(path, "cpu", precision="int8")
    with pytest.raises(UserError, match="precision 'int4' is not one of"):
        Classifier.load(path, "cpu", precision="int4")
