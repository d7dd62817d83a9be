"""Table 1, computed from the real modules by forward hooks.

Each row's output shape comes from a hook on its last module; ``macs`` are the multiply-adds of
every ``Conv2d`` and ``Linear`` under the row (pools, LRN and BatchNorm add none), counted from
the shapes the hooks see; ``params`` are all parameters (weights, biases, BN affine) of the row's
modules. Nothing here copies the paper's numbers except ``PAPER_TABLE1``, which is only used
to compare against.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

# Table 1 rows -> module attribute names (torchvision's naming: conv2 is the 1x1 reduce,
# conv3 the 3x3; together they are the paper's "conv2" row).
ROWS: list[tuple[str, list[str]]] = [
    ("conv1", ["conv1"]),
    ("conv2", ["conv2", "conv3"]),
    *[(f"inception_{s}", [f"inception{s}"]) for s in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")],
    ("fc", ["fc"]),
]

# The paper's Table 1: params in K (= 1024), ops in M (= 10^6) multiply-adds.
PAPER_TABLE1: dict[str, tuple[float, float]] = {
    "conv1": (2.7, 34),
    "conv2": (112, 360),
    "inception_3a": (159, 128),
    "inception_3b": (380, 304),
    "inception_4a": (364, 73),
    "inception_4b": (437, 88),
    "inception_4c": (463, 100),
    "inception_4d": (580, 119),
    "inception_4e": (840, 170),
    "inception_5a": (1072, 54),
    "inception_5b": (1388, 71),
    "fc": (1000, 1),
}

PAPER_NOTES = {
    "conv1": "the paper's conv1 row (2.7K params, 34M ops) is inconsistent with its own layer, a dense "
    "7x7/2 convolution 3->64 (9.4K params, 118M ops)",
    "inception_4c": "the paper's 4c params (463K) disagree with its own ops column (100M, which the dense "
    "count matches): the printed columns give 498K",
    "inception_5a": "the paper's 5a row (1072K, 54M) fits a 5x5 reduce of 48, not the printed 32 that "
    "the table's columns, the BVLC replica and torchvision all use",
}


@dataclass
class Row:
    name: str
    output: list[int]  # [C, H, W]
    params: int
    macs: int


def _leaf_macs(module: nn.Module, out: torch.Tensor) -> int:
    per_image = out[0].numel()
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return per_image * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return per_image * module.in_features
    return 0


def profile_table1(model: nn.Module, input_size: int = 224) -> dict:
    """Run one ``[1, 3, input_size, input_size]`` image through ``model`` (eval mode) and return
    ``{"rows": [Row as dict, ...], "total_params", "total_macs"}``."""
    rows = {name: Row(name, [], 0, 0) for name, _ in ROWS}
    hooks = []
    for row_name, module_names in ROWS:
        row = rows[row_name]
        for mname in module_names:
            module = getattr(model, mname)
            row.params += sum(p.numel() for p in module.parameters())
            for leaf in module.modules():
                if isinstance(leaf, (nn.Conv2d, nn.Linear)):
                    hooks.append(
                        leaf.register_forward_hook(lambda m, i, o, r=row: setattr(r, "macs", r.macs + _leaf_macs(m, o)))
                    )
        last = getattr(model, module_names[-1])
        hooks.append(last.register_forward_hook(lambda m, i, o, r=row: setattr(r, "output", list(o.shape[1:]))))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            model(torch.zeros(1, 3, input_size, input_size))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    out_rows = [asdict(r) for r in rows.values()]
    for r in out_rows:
        if len(r["output"]) == 1:  # fc: [C] -> [C, 1, 1]
            r["output"] = [r["output"][0], 1, 1]
    return {
        "rows": out_rows,
        "total_params": sum(p.numel() for p in model.parameters()),
        "total_macs": sum(r["macs"] for r in out_rows),
    }


def paper_deviation(row: dict) -> tuple[float, float]:
    """Relative deviation ``(params, macs)`` of a computed row from the paper's Table 1."""
    k, m = PAPER_TABLE1[row["name"]]
    return row["params"] / (k * 1024) - 1.0, row["macs"] / (m * 1e6) - 1.0
