import numpy as np
import pytest

from keras_attngan import losses


def test_lsgan_values():
    real, fake = np.full((2, 4), 1.0, "float32"), np.full((2, 4), 0.5, "float32")
    assert float(losses.generator_adversarial(fake, "lsgan")) == pytest.approx(0.25)
    # 0.5 * ((1-1)^2 + 0.5^2)
    assert float(losses.discriminator_adversarial(real, fake, "lsgan")) == pytest.approx(0.125)


def test_vanilla_is_non_saturating_cross_entropy():
    fake = np.array([0.0, 2.0], "float32")
    expected = np.mean(-np.log(1 / (1 + np.exp(-fake))))
    assert float(losses.generator_adversarial(fake, "vanilla")) == pytest.approx(expected,
                                                                                 rel=1e-5)
    real = np.array([3.0], "float32")
    d = 0.5 * (np.log1p(np.exp(-3.0)) + np.mean(np.log1p(np.exp(fake))))
    assert float(losses.discriminator_adversarial(real, fake, "vanilla")) == pytest.approx(
        d, rel=1e-5)


def test_hinge_values():
    real, fake = np.array([0.5, 2.0], "float32"), np.array([-2.0, 0.0], "float32")
    assert float(losses.discriminator_adversarial(real, fake, "hinge")) == pytest.approx(
        0.5 * (0.25 + 0.5))
    assert float(losses.generator_adversarial(fake, "hinge")) == pytest.approx(1.0)


def test_l1_and_unknown_kind():
    assert float(losses.cycle_consistency(np.ones(4), np.zeros(4))) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="hinge"):
        losses.generator_adversarial(np.ones(2), "wgan")
