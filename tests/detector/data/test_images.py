"""to_uint8_rgb inverts to_tensor (what the trainers' TensorBoard pictures show)."""

import numpy as np

from detector.data.images import to_tensor, to_uint8_rgb


def test_to_uint8_rgb_inverts_to_tensor():
    img = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    back = to_uint8_rgb(to_tensor(img))
    assert back.dtype == np.uint8 and back.shape == (7, 5, 3) and back.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(back, img)
