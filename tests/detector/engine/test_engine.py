"""EMA, the sharded sampler and the learning-rate schedules."""

import math

import pytest
import torch
from torch import nn

from detector.engine.ema import ModelEMA
from detector.engine.sampler import ShardedSampler
from detector.engine.schedule import ScheduleConfig, lr_factor


def test_ema_update_rule():
    model = nn.BatchNorm1d(2)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema = ModelEMA(model, decay=0.5, warmup=False)
    with torch.no_grad():
        model.weight.fill_(3.0)
        model.running_mean.fill_(7.0)
    ema.update(model)
    torch.testing.assert_close(ema.module.weight, torch.full((2,), 2.0))  # 0.5 * 1 + 0.5 * 3
    torch.testing.assert_close(ema.module.running_mean, torch.full((2,), 7.0))  # buffers copied
    ema.update(model)
    torch.testing.assert_close(ema.module.weight, torch.full((2,), 2.5))
    warm = ModelEMA(model, decay=0.999, warmup=True)
    assert warm.current_decay() == pytest.approx(1 / 10)
    warm.updates = 990
    assert warm.current_decay() == pytest.approx(991 / 1000)
    warm.updates = 10**6
    assert warm.current_decay() == 0.999
    state = ema.state_dict()
    fresh = ModelEMA(nn.BatchNorm1d(2), decay=0.1)
    fresh.load_state_dict(state)
    assert fresh.updates == 2 and fresh.decay == 0.5 and torch.equal(fresh.module.weight, ema.module.weight)


def test_sharded_batches_union_is_the_single_process_batch():
    single = ShardedSampler(50, 0, 1, seed=3, drop_last=True)
    ranks = [ShardedSampler(50, r, 2, seed=3, drop_last=True) for r in range(2)]
    for s in [single, *ranks]:
        s.set_epoch(4)
    one = single.order()
    shards = [r.order() for r in ranks]
    b = 5  # per rank; global 10
    for k in range(len(shards[0]) // b):
        union = sorted(shards[0][k * b : (k + 1) * b] + shards[1][k * b : (k + 1) * b])
        assert union == sorted(one[k * 2 * b : (k + 1) * 2 * b])
    single.set_epoch(5)
    assert single.order() != one  # a new order each epoch
    single.set_epoch(4, start_batch=3, batch_size=10)
    assert list(single) == one[30:] and len(single) == 20


@pytest.mark.parametrize("epoch", [0, 7.9, 8, 16.5])
def test_step_schedule(epoch):
    cfg = ScheduleConfig(kind="step", step_epochs=8, gamma=0.96)
    assert lr_factor(cfg, int(epoch * 100), 100, 90) == pytest.approx(0.96 ** math.floor(epoch / 8))


def test_cosine_and_warmup():
    cfg = ScheduleConfig(kind="cosine", warmup_epochs=1, min_factor=0.0)
    assert lr_factor(cfg, 0, 10, 10) == pytest.approx(0.1 * 1.0, rel=1e-3)  # first warm-up step
    assert lr_factor(cfg, 50, 10, 10) == pytest.approx(0.5)  # half way
    assert lr_factor(cfg, 100, 10, 10) == pytest.approx(0.0, abs=1e-12)
