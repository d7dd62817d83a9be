"""Resuming the shared training loop finishes exactly what an interrupted run would have done,
wherever it was stopped: mid-epoch, after the last training step, during the final validation,
and after final.pth was written. A run killed at each stage and resumed must end with the same
final weights, metrics records, epoch lines, plot and returned validation as an uninterrupted run.
"""

import contextlib
import io
import json
import os
import signal
from dataclasses import dataclass, field

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from detector.engine import loop
from detector.engine.distributed import DistContext
from detector.engine.optim import OptimConfig
from detector.engine.run_config import RunConfig
from detector.errors import Interrupted

pytestmark = pytest.mark.numerics  # every test here compares two code paths or trains


class Killed(Exception):
    """Stands for the process being killed at the chosen point."""


@dataclass
class ToyData:
    workers: int = 0


@dataclass
class ToyConfig(RunConfig):
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(batch_size=4, epochs=2, lr=0.1, ema_decay=0.5))
    data: ToyData = field(default_factory=ToyData)
    log_every: int = 1
    checkpoint_every: int = 1
    device: str = "cpu"


class ToySet(Dataset):
    def __init__(self, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 6, generator=g)
        self.y = (self.x[:, 0] + 0.3 * torch.randn(n, generator=g) > 0).long()

    def set_epoch(self, epoch: int) -> None:
        pass

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def _task(evaluate_hook=None) -> loop.Task:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 2))

    def collate(items):
        return torch.stack([x for x, _ in items]), torch.stack([y for _, y in items])

    def loss(net, batch):
        x, y = batch
        return nn.functional.cross_entropy(net(x), y), len(y)

    def evaluate(ema_model, loader):
        if evaluate_hook:
            evaluate_hook()
        ema_model.eval()
        with torch.no_grad():
            right = sum((ema_model(x).argmax(1) == y).sum().item() for x, y in loader)
        return {"acc": right / 12}

    return loop.Task(model, ToySet(16, 1), ToySet(12, 2), collate, loss, evaluate,
                     lambda r: f"acc {r['acc']:.4f}", ("acc",))  # fmt: skip


def _fit(out, resume, evaluate_hook=None):
    state = loop.resume_state(out, resume, DistContext(0, 1, 0, torch.device("cpu")))
    return loop.fit(_task(evaluate_hook), ToyConfig(), out, DistContext(0, 1, 0, torch.device("cpu")), state)


def _records(out):
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "img_per_s"} for r in rows]


def _epoch_lines(text):
    return [line.split(" img/s")[0].rsplit(",", 1)[0] for line in text.splitlines() if line.startswith("epoch ")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        result = _fit(out, resume=False)
    return out, result, buf.getvalue()


STAGES = {
    # which save_checkpoint call (by what it writes) is the last thing the process does
    "mid-epoch": lambda path, kw: path.name == "last.pth" and kw["step"] == 5,
    "after the last step": lambda path, kw: path.name == "last.pth" and kw["step"] == 8 and kw["batch_in_epoch"] == 4,
    "during the final validation": None,  # the final evaluate() raises
    "after final.pth": lambda path, kw: path.name == "final.pth",
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_resume_at_each_stage_ends_like_an_uninterrupted_run(stage, reference, tmp_path, monkeypatch, capsys):
    ref_out, ref_result, ref_text = reference
    real_save = loop.save_checkpoint
    kill_after = STAGES[stage]

    def save(path, state, cfg, **kw):
        out = real_save(path, state, cfg, **kw)
        if kill_after is not None and kill_after(path, kw):
            raise Killed(stage)
        return out

    calls = []

    def final_validation_dies():
        calls.append(1)
        if stage == "during the final validation" and len(calls) == 2:
            raise Killed(stage)

    monkeypatch.setattr(loop, "save_checkpoint", save)
    with pytest.raises(Killed):
        _fit(tmp_path, resume=False, evaluate_hook=final_validation_dies)
    first = capsys.readouterr().out
    if stage == "during the final validation":
        assert torch.load(tmp_path / "last.pth", weights_only=True)["pending_eval"] is True
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    result = _fit(tmp_path, resume=True)
    second = capsys.readouterr().out

    assert "resumed from" in second
    assert result == ref_result and result["acc"] == pytest.approx(ref_result["acc"])
    ref_final = torch.load(ref_out / "final.pth", weights_only=True)
    final = torch.load(tmp_path / "final.pth", weights_only=True)
    assert final["val"] == ref_final["val"] and final["step"] == ref_final["step"] == 8
    for k, v in ref_final["model"].items():
        assert torch.equal(final["model"][k], v), k
    assert _records(tmp_path) == _records(ref_out)
    # every epoch's line is printed once, by one of the two processes, as the reference printed it
    assert _epoch_lines(first) + _epoch_lines(second) == _epoch_lines(ref_text)
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_a_signal_during_validation_stops_at_once_and_resumes_there(tmp_path, capsys):
    """Item 8 of the fault review: SIGTERM during validation waited for the whole validation, and
    in the last epoch was ignored (exit 0). It now raises Interrupted at once; the epoch's training
    was checkpointed before its validation, which the resumed run does first."""
    calls = []

    def sigterm_in_final_validation():
        calls.append(1)
        if len(calls) == 2:  # the last epoch's
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Interrupted) as stop:
        _fit(tmp_path, resume=False, evaluate_hook=sigterm_in_final_validation)
    assert stop.value.signum == signal.SIGTERM and "continue with --resume" in stop.value.message
    assert len(calls) == 2 and not (tmp_path / "final.pth").exists()
    assert torch.load(tmp_path / "last.pth", weights_only=True)["pending_eval"] is True
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the loop's handler is gone
    capsys.readouterr()
    _fit(tmp_path, resume=True)
    assert "validating epoch 2 first" in capsys.readouterr().out and (tmp_path / "final.pth").is_file()


def test_a_second_signal_during_the_steps_stops_at_once(tmp_path, monkeypatch):
    """The first SIGINT between steps asks for a checkpoint after the step; a second one (Ctrl-C
    again, during that step) raises at once instead of being ignored."""
    real_step = loop.train_step
    steps = []

    def twice_in_step_3(*args, **kw):
        steps.append(1)
        if len(steps) == 3:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(*args, **kw)

    monkeypatch.setattr(loop, "train_step", twice_in_step_3)
    with pytest.raises(Interrupted) as stop:
        _fit(tmp_path, resume=False)
    assert stop.value.signum == signal.SIGINT and len(steps) == 3
    # and one signal: the next step carries the request (to every rank, in DDP), then the state is
    # saved and the run stops with SIGINT's status
    steps.clear()

    def once_in_step_3(*args, **kw):
        steps.append(1)
        if len(steps) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(*args, **kw)

    monkeypatch.setattr(loop, "train_step", once_in_step_3)
    with pytest.raises(Interrupted) as stop:
        _fit(tmp_path / "one", resume=False)
    assert stop.value.signum == signal.SIGINT and "stopped at step 4" in str(stop.value)
    assert torch.load(tmp_path / "one" / "last.pth", weights_only=True)["step"] == 4


@pytest.mark.parametrize("last_step", [4, 8])  # the last step of epoch 1, of the whole run
def test_a_signal_during_an_epochs_last_step_stops_before_its_validation(last_step, reference, tmp_path,
                                                                          monkeypatch, capsys):  # fmt: skip
    """A signal during an epoch's last step set the flag after that step had read it, and no step
    came after to carry it: the run went on (at the end, to final.pth and exit 0, and the one
    command to its next stage). It now stops once the epoch is saved, before its validation, and
    the resumed run ends as an uninterrupted one."""
    real_step, steps = loop.train_step, []

    def signal_in_last_step(*args, **kw):
        steps.append(1)
        if len(steps) == last_step:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_step(*args, **kw)

    monkeypatch.setattr(loop, "train_step", signal_in_last_step)
    with pytest.raises(Interrupted) as stop:
        _fit(tmp_path, resume=False)
    assert stop.value.signum == signal.SIGTERM and f"stopped after epoch {last_step // 4}" in str(stop.value)
    saved = torch.load(tmp_path / "last.pth", weights_only=True)
    assert (saved["step"], saved["pending_eval"], (tmp_path / "final.pth").exists()) == (last_step, True, False)
    monkeypatch.setattr(loop, "train_step", real_step)
    capsys.readouterr()
    result = _fit(tmp_path, resume=True)
    assert f"validating epoch {last_step // 4} first" in capsys.readouterr().out
    ref_out, ref_result, _ = reference
    final, want = (torch.load(p / "final.pth", weights_only=True)["model"] for p in (tmp_path, ref_out))
    assert all(torch.equal(final[k], want[k]) for k in want) and result == ref_result
