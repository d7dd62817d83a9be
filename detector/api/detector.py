"""``Detector``: a trained detector (or an ensemble) as one object that turns images into
detections, like torchvision's models or detectron2's ``DefaultPredictor``.

    det = Detector.load("runs/det/final.pth")          # or a list of checkpoints: an ensemble
    r = det("photo.jpg")                                # or an array, PIL image, tensor; or a list
    r.boxes, r.scores, r.labels, r.names                # xyxy float32 in the image's pixels
    ev, split = det.evaluate(load_dataset("data/voc", "test"), metric="voc")

Proposals for an image come, in order, from the ``proposals`` argument of the call, from the
cache given to :meth:`Detector.load` (looked up by the file's stem, as ``tools/proposals.py``
writes a dataset's), or are computed on the fly with the first checkpoint's method (selective
search, its MultiBox network, or both merged). With ``fusion`` other than ``average``, each
member's own method is a *source*, and each source has its own cache and on-the-fly search.

    det = Detector.load(["a.pth", "b.pth"], tta=("hflip",))             # members and views averaged
    det = Detector.load(["ss.pth", "mb.pth"], fusion="wbf", weights=[1, 2])  # own proposals, fused
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from ..data.images import ImageError, read_image, to_tensor
from ..data.records import DetectionDataset
from ..deploy.runtime import OnnxRegionDetector
from ..engine.distributed import DistContext, resolve_device
from ..errors import UserError
from ..eval import EvalResult, evaluate_detections
from ..eval.results import arrays_to_results
from ..proposals.cache import ProposalCache
from ..rcnn.data import clean_proposals
from ..rcnn.ensemble import Ensemble
from ..rcnn.fusion import FusionConfig, check_fusion
from ..rcnn.precision import save_int8
from ..rcnn.predict import LoadedDetector, detect_dataset, label_map, load_detector, load_detector_config
from ..rcnn.proposals import OnTheFly, boxes_from, ensure_proposals, proposal_sources, source_roots
from .inputs import ImageInput, as_rgb
from .result import Result

RUNTIMES = ("torch", "onnxruntime")  # what scores the regions: PyTorch, or onnxruntime (CPU)
DEMO_DETECTOR = Path("outputs/demo/det/final.pth")  # what `make demo` trains, under the folder it ran in


def default_checkpoint() -> Path:
    """The demo's detector (``outputs/demo/det/final.pth`` under the current folder), the
    checkpoint used when none is named; a one-line :class:`UserError` says what to do without it."""
    if not DEMO_DETECTOR.is_file():
        raise UserError(
            f"no checkpoint given and no demo detector at {DEMO_DETECTOR}: run `make demo` here, or pass --ckpt det.pth"
        )
    return DEMO_DETECTOR


def _onnx_members(paths: list, device, multibox: str | None, onnx) -> list[LoadedDetector]:
    """Checkpoints whose networks run on onnxruntime (CPU), from ``onnx`` files or exported now."""
    if str(device) not in ("auto", "cpu"):
        raise UserError(f"runtime 'onnxruntime' runs on the CPU here (the onnxruntime package); got device {device!r}")
    files = list(onnx) if isinstance(onnx, (list, tuple)) else [onnx] * (1 if onnx is not None else len(paths))
    if len(files) != len(paths):
        raise UserError(f"{len(files)} onnx file(s) for {len(paths)} checkpoint(s): give one per checkpoint")
    members = []
    for path, file in zip(paths, files, strict=True):
        m = load_detector(path, torch.device("cpu"), fold=False, multibox=multibox)
        members.append(dataclasses.replace(m, model=OnnxRegionDetector(m.model, file)))
    return members


def _torch_members(paths: list, dev: torch.device, mb: str | None, precision: str, calib, compile: bool) -> list:
    """Each checkpoint loaded in PyTorch in ``precision``; ``calib`` (int8): a dataset, or one
    calibration file per checkpoint."""
    files = calib if isinstance(calib, (list, tuple)) else [calib] * len(paths)
    if len(files) != len(paths):
        raise UserError(f"{len(paths)} checkpoints but {len(files)} int8 calibration files")
    return [
        load_detector(p, dev, multibox=mb, precision=precision, compile=compile,
                      calib=_samples(calib, p, dev, mb) if isinstance(calib, DetectionDataset) else f)
        for p, f in zip(paths, files, strict=True)
    ]  # fmt: skip


def _samples(dataset: DetectionDataset, ckpt, device: torch.device, multibox: str | None, seed: int = 0):
    """Calibration pairs for checkpoint ``ckpt``: ``(image [3, H, W] normalized, proposals [N, 4]
    float32 in its pixels)`` of ``dataset``'s images in a seeded random order, proposals computed
    with the checkpoint's own method; unreadable images are skipped."""
    cfg = load_detector_config(ckpt)
    if multibox:
        cfg.proposals.multibox_ckpt = multibox
    fly = OnTheFly(cfg.proposals, device)
    order = np.random.default_rng(seed).permutation(len(dataset.records))
    for i in order:
        try:
            rgb = read_image(dataset.records[i].file)
        except ImageError:
            continue
        h, w = rgb.shape[:2]
        boxes = clean_proposals(fly(rgb, cfg.test.max_proposals), w, h, cfg.test.max_proposals)
        if len(boxes):
            yield to_tensor(rgb), torch.from_numpy(boxes)


def _check_load_args(runtime: str, score_thresh, max_dets, max_proposals) -> None:
    """One-line errors for :meth:`Detector.load`'s settings out of range."""
    if runtime not in RUNTIMES:
        raise UserError(f"runtime {runtime!r} is not available; choose one of {list(RUNTIMES)}")
    if score_thresh is not None and not 0.0 <= score_thresh <= 1.0:
        raise UserError(f"score_thresh must be a probability in [0, 1], got {score_thresh}")
    for name, value in (("max_dets", max_dets), ("max_proposals", max_proposals)):
        if value is not None and value < 1:
            raise UserError(f"{name} must be at least 1, got {value}")


@dataclass
class SplitDetections:
    """A whole split's detections: COCO results entries (the dataset's image and category
    ids, boxes ``[x, y, w, h]`` in its frame) and the images skipped, ``[(file, why)]``."""

    results: list[dict]
    failed: list[tuple[str, str]]


class Detector:
    """One trained detector, or several as an ensemble; see the module doc.

    Args:
        members: loaded checkpoints (:func:`~detector.rcnn.predict.load_detector`), same classes.
        test: score threshold, NMS, views, detections and proposals per image (default: the first's).
        proposals: a proposal cache folder to read images' proposals from, when they are in it
            (with several sources: one folder per source, or one holding ``s0``, ``s1``, ...).
        tta, weights, fusion, fusion_cfg: as :class:`~detector.rcnn.ensemble.Ensemble`'s.
    """

    def __init__(
        self, members: list[LoadedDetector], test=None, proposals: str | Path | list | None = None,
        runtime: str = "torch", tta=None, weights=None, fusion: str = "average", fusion_cfg: FusionConfig | None = None,
    ):  # fmt: skip
        if runtime not in RUNTIMES:
            raise UserError(f"runtime {runtime!r} is not available; choose one of {list(RUNTIMES)}")
        check_fusion(fusion)
        self.sources, source_of = proposal_sources([m.cfg.proposals for m in members], fusion == "average")
        self.ensemble = Ensemble(members, test, tta, weights, fusion, source_of, fusion_cfg)
        self.members = members
        self.runtime = runtime
        self.caches = [ProposalCache(r) for r in source_roots(proposals, len(self.sources))] if proposals else None
        self._on_the_fly: dict[int, OnTheFly] = {}

    @classmethod
    def load(
        cls, checkpoints: str | Path | list[str | Path] | None = None, device: str | torch.device = "auto",
        multibox: str | Path | None = None, score_thresh: float | None = None, max_dets: int | None = None,
        runtime: str = "torch", proposals: str | Path | None = None,
        onnx: str | Path | list[str | Path | None] | None = None, max_proposals: int | None = None,
        precision: str = "fp32", calib: DetectionDataset | str | Path | list[str | Path] | None = None,
        compile: bool = False, tta: tuple[str, ...] | str | None = None, weights: list[float] | None = None,
        fusion: str = "average", box_voting: bool | None = None,
    ) -> Detector:  # fmt: skip
        """Load ``train_det`` checkpoint(s) onto ``device`` ("auto", "cpu", "cuda"); with none,
        the demo's detector (:func:`default_checkpoint`).

        ``multibox`` replaces the MultiBox checkpoint the detector trained with (for on-the-fly
        proposals); ``score_thresh`` (default: the checkpoint's, 0.01, meant for evaluation) and
        ``max_dets`` override its test settings, and ``max_proposals`` the proposals scored per
        image (the first N in rank order: MultiBox's by score); ``proposals`` is a cache folder to
        read from.

        ``runtime="onnxruntime"`` scores regions with onnxruntime on the CPU
        (:class:`~detector.deploy.runtime.OnnxRegionDetector`): with ``onnx``, the file(s)
        ``tools/export_onnx.py`` wrote from each checkpoint (one per checkpoint, in order);
        without, each checkpoint's network is exported when loaded.

        ``precision`` ("fp32", "bf16", "int8"; :mod:`detector.rcnn.precision`): ``int8`` needs
        ``calib``, a dataset whose first images (in a seeded random order, with each member's own
        proposals) calibrate ~512 regions, or the file(s) :meth:`save_int8` wrote (one per
        checkpoint), which reload the calibration without data. ``compile`` runs the trunk
        through ``torch.compile`` (fp32 or bf16; the first call compiles, see
        :func:`backbones.for_inference`).

        ``tta`` (default: the first checkpoint's ``test.tta``): views scored besides the image,
        ``("hflip",)``, ``"hflip,vflip"``, ``rot90`` (:mod:`detector.rcnn.views`); ``weights``: one
        per checkpoint; ``fusion``: ``average`` (one shared proposal set), ``union`` (every member
        scores all members' proposals), ``wbf``, ``nmw`` or ``soft_nms`` (each member on its own
        proposals, detections fused by ``ensemble-boxes``; :mod:`detector.rcnn.fusion`);
        ``box_voting`` (default: the checkpoint's ``test.box_voting``) moves each detection to
        the score-weighted mean of its class's boxes that overlap it (Gidaris and Komodakis).
        """
        if checkpoints is None:
            checkpoints = default_checkpoint()
        paths = [checkpoints] if isinstance(checkpoints, (str, Path)) else list(checkpoints)
        if not paths:
            raise UserError("Detector.load needs at least one checkpoint")
        _check_load_args(runtime, score_thresh, max_dets, max_proposals)
        check_fusion(fusion)
        mb = str(multibox) if multibox else None
        if runtime == "onnxruntime":
            if precision != "fp32" or compile:
                raise UserError("precision and compile are PyTorch's; onnxruntime scores in fp32 here")
            members = _onnx_members(paths, device, mb, onnx)
        else:
            if onnx is not None:
                raise UserError("onnx files are run with runtime='onnxruntime'")
            members = _torch_members(paths, resolve_device(device), mb, precision, calib, compile)
        overrides = {"score_thresh": score_thresh, "max_dets": max_dets, "max_proposals": max_proposals,
                     "box_voting": box_voting}  # fmt: skip
        test = dataclasses.replace(members[0].cfg.test, **{k: v for k, v in overrides.items() if v is not None})
        return cls(members, test, proposals, runtime, tta, weights, fusion)

    def save_int8(self, paths: str | Path | list[str | Path]) -> list[Path]:
        """Write each int8 member's calibration (``precision="int8"``), one file per member, to
        reload with ``Detector.load(..., precision="int8", calib=paths)``."""
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        if len(paths) != len(self.members):
            raise UserError(f"{len(self.members)} members but {len(paths)} files to save their int8 calibration in")
        return [save_int8(f, m.model, m.path) for f, m in zip(paths, self.members, strict=True)]

    @property
    def class_names(self) -> list[str]:
        """The K class names (the dataset's names, e.g. COCO category names or ILSVRC synsets)."""
        return self.ensemble.class_names

    @property
    def display_names(self) -> list[str]:
        """The K names shown on drawings (human-readable where the dataset has them)."""
        return self.ensemble.display_names

    @property
    def device(self) -> torch.device:
        return self.ensemble.device

    @property
    def test(self):
        """The :class:`~detector.rcnn.postprocess.PostprocessConfig` in force."""
        return self.ensemble.test

    def proposals_for(self, image: np.ndarray, path: str | None = None) -> np.ndarray | list[np.ndarray]:
        """``[N, 4]`` float32 xyxy proposals of ``[H, W, 3]`` uint8 RGB ``image`` in its pixels
        (a list, one per source, when there are several): from the cache by the file's stem when
        it holds them, else computed now."""
        sets = [self._source_proposals(k, image, path) for k in range(len(self.sources))]
        return sets[0] if len(sets) == 1 else sets

    def _source_proposals(self, k: int, image: np.ndarray, path: str | None) -> np.ndarray:
        cached = self.caches[k].find(Path(path).stem, path) if self.caches is not None and path is not None else None
        if cached is not None:
            return cached
        if k not in self._on_the_fly:
            self._on_the_fly[k] = OnTheFly(self.sources[k], self.device)
        return self._on_the_fly[k](image, self.test.max_proposals)

    def detect(self, image: ImageInput, proposals: np.ndarray | torch.Tensor | list | None = None) -> Result:
        """Detections of one image; ``proposals`` (``[N, 4]`` xyxy in its pixels, or a list of
        one per source) skip the search. An image without usable proposals (a 1x1 image, say)
        gives an empty :class:`Result`."""
        rgb, path = as_rgb(image)
        h, w = rgb.shape[:2]
        raw = self.proposals_for(rgb, path) if proposals is None else proposals
        sets = raw if isinstance(raw, list) else [raw]
        boxes = [
            torch.from_numpy(clean_proposals(np.asarray(b, np.float32), w, h, self.test.max_proposals)) for b in sets
        ]
        dets = self.ensemble.detect(to_tensor(rgb), boxes)
        return Result(dets.boxes.numpy().astype(np.float32), dets.scores.numpy().astype(np.float32),
                      dets.labels.numpy().astype(np.int64), self.display_names, rgb, path,
                      sum(len(b) for b in boxes))  # fmt: skip

    def __call__(self, images, proposals=None) -> Result | list[Result]:
        """:meth:`detect` on one image, or on each of a list or tuple of images (a list back)."""
        if isinstance(images, (list, tuple)):
            if proposals is not None and len(proposals) != len(images):
                raise UserError(f"{len(images)} images but {len(proposals)} proposal sets")
            return [self.detect(im, None if proposals is None else proposals[k]) for k, im in enumerate(images)]
        return self.detect(images, proposals)

    def split_proposals(self, dataset: DetectionDataset, proposals=None, ctx: DistContext | None = None):
        """``record -> [N, 4]`` raw proposals (a list, one per source, with several) of every
        image of ``dataset``, from the cache(s) at ``proposals`` (default: :meth:`load`'s),
        computed into them first where missing with each source's method."""
        roots = source_roots(proposals, len(self.sources)) if proposals else [c.root for c in self.caches or ()]
        if not roots:
            raise UserError("detect_split needs a proposal cache folder (proposals=...) to read or fill")
        ctx = ctx or DistContext(0, 1, 0, self.device)
        caches = [ensure_proposals(dataset, r, cfg, ctx) for r, cfg in zip(roots, self.sources, strict=True)]
        return caches[0].boxes_for if len(caches) == 1 else partial(boxes_from, caches)

    def detect_split(
        self, dataset: DetectionDataset, proposals: str | Path | None = None, ctx: DistContext | None = None,
        workers: int = 0, progress: bool = True,
    ) -> SplitDetections:  # fmt: skip
        """Every image of ``dataset``, shared out over ``torchrun`` ranks when ``ctx`` says so.

        Proposals come from the cache at ``proposals`` (default: the one given to :meth:`load`),
        computed into it first where missing with the first checkpoint's method. The model's
        classes are matched to the dataset's by name (a model class the dataset lacks is a
        one-line error). Unreadable images are skipped and listed in ``failed``.
        """
        ctx = ctx or DistContext(0, 1, 0, self.device)
        to_dataset = label_map(self.class_names, dataset, self.members[0].path)
        boxes_for = self.split_proposals(dataset, proposals, ctx)
        arrays, bad = detect_dataset(self.ensemble.detect, dataset, boxes_for, self.test.max_proposals, ctx, workers,
                                     progress)  # fmt: skip
        arrays.labels = to_dataset[arrays.labels]
        failed = [(str(dataset.records[i].file), why) for i, why in bad]
        return SplitDetections(arrays_to_results(dataset, arrays), failed)

    def evaluate(
        self, dataset: DetectionDataset, metric: str = "voc", proposals: str | Path | None = None,
        ctx: DistContext | None = None, workers: int = 0, progress: bool = True,
    ) -> tuple[EvalResult, SplitDetections]:  # fmt: skip
        """:meth:`detect_split` then the ``metric`` ("voc", "voc07", "ilsvrc", "coco") on it."""
        split = self.detect_split(dataset, proposals, ctx, workers, progress)
        return evaluate_detections(dataset, split.results, metric), split
