"""``data.*`` settings of train_cls are checked before any work, each with a one-line error
naming its key (albumentations would raise a multi-line pydantic error, or crop wrongly)."""

import dataclasses

import pytest

from detector.classify.config import AugmentConfig, DataConfig
from detector.classify.data import check_data, train_transform
from detector.errors import UserError


def _data(**aug) -> DataConfig:
    return DataConfig(input_size=32, resize=36, augment=dataclasses.replace(AugmentConfig(), **aug))


@pytest.mark.parametrize(
    ("aug", "key"),
    [
        ({"hflip": 1.5}, "data.augment.hflip must be a probability"),
        ({"photometric": -0.1}, "data.augment.photometric must be a probability"),
        ({"area": (0.9, 0.1)}, "data.augment.area"),
        ({"area": (0.0, 1.0)}, "data.augment.area"),
        ({"area": (0.5, 1.5)}, "data.augment.area"),
        ({"aspect": (0.0, 1.0)}, "data.augment.aspect"),
        ({"aspect": (1.5, 0.5)}, "data.augment.aspect"),
        ({"brightness": -0.2}, "data.augment.brightness"),
        ({"saturation": -1.0}, "data.augment.saturation"),
        ({"hue": 0.7}, "data.augment.hue"),
    ],
)
def test_bad_augmentation_names_its_key(aug, key):
    with pytest.raises(UserError) as e:
        check_data(_data(**aug))
    assert str(e.value).startswith(key) and "\n" not in str(e.value)


def test_bad_sizes_name_their_keys():
    for kw in ({"input_size": 0, "resize": 36}, {"input_size": 64, "resize": 56}):
        with pytest.raises(UserError, match=r"data\.input_size .* data\.resize"):
            check_data(dataclasses.replace(_data(), **kw))


def test_edges_pass_and_build():
    # the bounds themselves are valid settings, and albumentations accepts them
    for aug in ({"hflip": 0.0, "photometric": 1.0}, {"area": (1.0, 1.0), "aspect": (1.0, 1.0)}, {"hue": 0.5}):
        cfg = _data(**aug)
        check_data(cfg)
        train_transform(cfg.input_size, cfg.augment)
    check_data(DataConfig())  # the defaults
