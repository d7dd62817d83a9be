"""The installed command ``googlenet-det``: its verbs, the default detector, and readable results."""

import numpy as np
import pytest

from detector.api.classifier import Classification
from detector.api.result import Result
from detector.commands.main import VERBS, main
from tests.helpers import run_main, tiny_detector_checkpoint, write_photo


def _run(argv, cwd=None):
    """``googlenet-det argv`` in this process: ``(exit status, stdout, stderr)``."""
    res = run_main(main, *argv, cwd=cwd, name="googlenet-det")
    return res.returncode, res.stdout, res.stderr


def test_help_lists_every_verb_with_one_line():
    code, out, _ = _run(["--help"])
    assert code == 0 and out.startswith("usage: googlenet-det VERB")
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert listed == list(VERBS)
    assert _run([])[0] == 2  # nothing asked: the listing, and a usage error's status


@pytest.mark.parametrize("verb", list(VERBS))
def test_each_verb_has_its_tools_help(verb):
    code, out, err = _run([verb, "--help"])
    assert code == 0, err
    assert out.startswith(f"usage: googlenet-det {verb}") and "--" in out


def test_unknown_verb_is_one_line_and_status_2():
    code, out, err = _run(["trian-det", "--opts", "x=1"])
    assert code == 2 and out == ""
    assert err.strip().splitlines() == ["error: unknown verb 'trian-det'; googlenet-det --help lists them"]


def test_infer_uses_the_demo_detector_or_says_how_to_get_one(tmp_path):
    write_photo(tmp_path / "photo.png", 48, 64, (10, 10, 40, 35))
    code, out, err = _run(["infer", "photo.png"], cwd=tmp_path)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "error: no checkpoint given and no demo detector at outputs/demo/det/final.pth: "
        "run `make demo` here, or pass --ckpt det.pth"
    ]
    assert not (tmp_path / "outputs").exists()
    tiny_detector_checkpoint(tmp_path / "outputs" / "demo" / "det" / "final.pth", classes=("a", "b"))
    code, out, err = _run(["infer", "photo.png", "--score-thresh", "0"], cwd=tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "using the demo's detector outputs/demo/det/final.pth (pass --ckpt for another)"
    assert lines[-1].startswith("1 images processed, 0 failed")
    assert (tmp_path / "outputs" / "infer" / "photo.jpg").is_file() and (
        tmp_path / "outputs" / "infer" / "photo.json"
    ).is_file()


def test_result_and_classification_print_as_a_summary():
    img = np.zeros((48, 64, 3), np.uint8)
    boxes = np.array([[1, 2, 30, 40], [5, 5, 20, 20], [0, 0, 10, 10], [3, 3, 9, 9]], np.float32)
    r = Result(boxes, np.array([0.9, 0.5, 0.25, 0.125], np.float32), np.array([1, 2, 1, 2]), ["cat", "dog"], img,
               "photo.jpg", 812)  # fmt: skip
    assert (
        repr(r)
        == str(r)
        == (
            "Result(photo.jpg, 64x48, 4 detections from 812 proposals:\n"
            "  cat 0.90 [1.0, 2.0, 30.0, 40.0]\n"
            "  dog 0.50 [5.0, 5.0, 20.0, 20.0]\n"
            "  cat 0.25 [0.0, 0.0, 10.0, 10.0]\n"
            "  ... and 1 more)"
        )
    )
    assert r.boxes is boxes  # the arrays stay attributes
    none = Result(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), ["cat"], img)
    assert repr(none) == "Result(image, 64x48, 0 detections)"
    one = Result(boxes[:1], np.array([0.5], np.float32), np.array([2]), ["cat", "dog"], img)
    assert repr(one) == "Result(image, 64x48, 1 detection:\n  dog 0.50 [1.0, 2.0, 30.0, 40.0])"
    c = Classification(["tench", "goldfish"], np.array([0.912, 0.031], np.float32), np.array([0, 1]), "a.jpg")
    assert repr(c) == str(c) == "Classification(a.jpg, top 2: tench 0.912, goldfish 0.031)"
