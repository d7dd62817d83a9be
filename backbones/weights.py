"""Loading weights files into a GoogLeNet, with one-line errors for the wrong file.

Two formats are accepted, both read with ``torch.load(weights_only=True)``:

- a torchvision-format state dict: a flat ``{name: tensor}`` mapping, as the released ImageNet
  weights of ``torchvision.models.googlenet`` (with or without the untrained ``aux1``/``aux2``
  entries, with or without a DistributedDataParallel ``module.`` prefix);
- a checkpoint of ours: a dict whose ``"model"`` entry is such a state dict (``train_cls``'s
  ``final.pth`` holds the averaged weights there; other entries are ignored here).

A third, an ONNX file of BVLC GoogLeNet (``*.onnx``, read by topology with the ``onnx``
package, :mod:`backbones.onnx_weights`), gives the ``paper`` variant its ImageNet weights and
sets its input transform to the BVLC convention (:mod:`backbones.transform`).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import torch

from .errors import WeightsError
from .googlenet import GoogLeNet
from .onnx_weights import read_onnx_googlenet
from .transform import InputTransform

CHECKPOINT_MODEL_KEY = "model"
AUX_PREFIXES = ("aux1.", "aux2.")
BACKBONE_PREFIX = "backbone."  # the trunk inside a detector or MultiBox checkpoint
TRANSFORM_PREFIX = "input_transform."  # optional in files: absent, the model's own stays
LOG = logging.getLogger("backbones")
HEAD_KEYS = ("fc.weight", "fc.bias", "aux1.fc2.weight", "aux1.fc2.bias", "aux2.fc2.weight", "aux2.fc2.bias")


def safe_load(path: str | Path, what: str = "weights file") -> object:
    """``torch.load(path, weights_only=True)`` onto the CPU; a missing or unreadable file is a
    one-line :class:`WeightsError` naming ``path`` and ``what`` was expected."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: {what} not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is the file's fault
        raise WeightsError(
            f"{path}: not a {what} readable with torch.load(weights_only=True) ({_load_reason(e)})"
        ) from None


def is_trunk_key(key: str) -> bool:
    """Whether a state-dict key belongs to the trunk inside a detector or MultiBox model."""
    return key.startswith(BACKBONE_PREFIX)


def _load_reason(error: Exception) -> str:
    """The specific part of a ``torch.load`` failure, without torch's advice paragraphs.

    An unpickling refusal carries its cause after ``WeightsUnpickler error:`` (e.g. "Unsupported
    global: GLOBAL torch.nn.modules.linear.Linear"); other failures (a truncated zip archive) say it
    in their first sentence."""
    text = str(error)
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text.split(marker, 1)[1]
    text = " ".join(text.strip().split("\n\n")[0].split())  # first paragraph, on one line
    cause = re.split(r"(?<=[^.])\. ", text, maxsplit=1)[0].rstrip(".")
    return cause or type(error).__name__


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from a torchvision-format file or a checkpoint of ours (CPU tensors)."""
    obj = safe_load(path)
    if isinstance(obj, dict) and isinstance(obj.get(CHECKPOINT_MODEL_KEY), dict):
        obj = obj[CHECKPOINT_MODEL_KEY]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(
            f"{path}: expected a state dict (name -> tensor) or a checkpoint with a '{CHECKPOINT_MODEL_KEY}' "
            f"state dict, got {type(obj).__name__}"
        )
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _examples(keys: set[str], n: int = 3) -> str:
    shown = sorted(keys)[:n]
    return ", ".join(shown) + (", ..." if len(keys) > n else "")


def is_onnx(path: str | Path) -> bool:
    """Whether ``path`` names an ONNX file (by its ``.onnx`` suffix)."""
    return Path(path).suffix.lower() == ".onnx"


def _read_onnx(model: GoogLeNet, path: Path, bvlc_mean) -> dict[str, torch.Tensor]:
    """The state dict of an ONNX GoogLeNet, its input transform included (see the module doc)."""
    if model.variant != "paper":
        raise WeightsError(
            f"{path}: an ONNX file gives the 'paper' variant (BVLC GoogLeNet, Table 1), but variant={model.variant!r} was requested"
        )
    state, recorded = read_onnx_googlenet(model, path)
    if recorded is None:
        step = InputTransform("bvlc", bvlc_mean)
    else:
        step = InputTransform()
        step.load_state_dict({k: torch.tensor(v) for k, v in recorded.items()})
    state.update({TRANSFORM_PREFIX + k: v for k, v in step.state_dict().items()})
    heads = " the file has no auxiliary heads: aux1 and aux2 keep their random initialization;"
    message = f"{path}: GoogLeNet (paper) from ONNX;{heads if model.aux1 is not None else ''} input {step.describe()}"
    (LOG.warning if model.aux1 is not None else LOG.info)(message)
    return state


def _check_variant(path, variant: str, state: dict) -> None:
    """A one-line error when ``state`` is the other variant's (BatchNorm or biased convs)."""
    has_bn = any(k.endswith(".bn.running_var") for k in state)
    if variant == "paper" and has_bn:
        raise WeightsError(
            f"{path}: is a 'bn' variant (torchvision-format, BatchNorm) state dict, but variant='paper' was requested"
        )
    if variant == "bn" and not has_bn and "conv1.conv.bias" in state:
        raise WeightsError(
            f"{path}: is a 'paper' variant state dict (biased convs, no BatchNorm), but variant='bn' was requested"
        )


def load_weights(model: GoogLeNet, path: str | Path, ignore_head: bool = False, bvlc_mean=None) -> None:
    """Load ``path`` into a :class:`~backbones.googlenet.GoogLeNet` in place.

    The auxiliary heads are optional on both sides: entries for heads the model lacks are
    dropped, and heads the file lacks keep their initialization (torchvision's released weights
    carry untrained ones). ``ignore_head=True`` skips the classifier layers (``fc`` and the
    auxiliary ``fc2``) so a backbone can be initialized for a different number of classes; it also
    takes the ``backbone.*`` part of a detector or MultiBox checkpoint, so one detector can start
    from another's trunk.

    An ONNX file (``*.onnx``, BVLC GoogLeNet, ``paper`` only) also sets the model's input
    transform to the BVLC convention with ``bvlc_mean`` (BGR; ``None`` is Caffe's 104/117/123),
    or to the one recorded by our exporter. A state dict that records a transform sets it too.

    Raises:
        WeightsError: missing file, unreadable file, wrong variant, missing or unexpected keys,
            a different number of classes, or any other shape mismatch.
    """
    state = _read_onnx(model, Path(path), bvlc_mean) if is_onnx(path) else read_state_dict(path)
    if any(map(is_trunk_key, state)):
        if not ignore_head:
            raise WeightsError(
                f"{path}: is a detector or MultiBox checkpoint (backbone.* keys); it has no classifier, "
                "so only its trunk can be loaded, as an initialization (--init)"
            )
        state = {k.removeprefix(BACKBONE_PREFIX): v for k, v in state.items() if is_trunk_key(k)}
    variant = model.variant
    _check_variant(path, variant, state)
    own = model.state_dict()
    state = {k: v for k, v in state.items() if not k.startswith(AUX_PREFIXES) or k in own}
    if ignore_head:
        state = {k: v for k, v in state.items() if k not in HEAD_KEYS}
    optional = (*AUX_PREFIXES, TRANSFORM_PREFIX)
    own_required = {k for k in own if not k.startswith(optional) and not (ignore_head and k in HEAD_KEYS)}
    missing = own_required - state.keys()
    unexpected = state.keys() - own.keys()
    if missing or unexpected:
        raise WeightsError(
            f"{path}: does not match googlenet variant '{variant}': {len(missing)} missing keys"
            f"{' (' + _examples(missing) + ')' if missing else ''}, {len(unexpected)} unexpected keys"
            f"{' (' + _examples(unexpected) + ')' if unexpected else ''}"
        )
    if "fc.weight" in state and state["fc.weight"].shape != own["fc.weight"].shape:
        raise WeightsError(
            f"{path}: has {state['fc.weight'].shape[0]} classes but num_classes={own['fc.weight'].shape[0]} "
            "was requested (pass ignore_head=True to load only the backbone)"
        )
    for k, v in state.items():
        if v.shape != own[k].shape:
            raise WeightsError(f"{path}: '{k}' has shape {list(v.shape)}, the model expects {list(own[k].shape)}")
    model.load_state_dict(state, strict=False)
