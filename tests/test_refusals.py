"""Every constructor refusal names the hyper-parameter to change (and the command line
turns it into exit 2 with that message)."""

import pytest

import keras_attngan as kag
from keras_attngan import cli


@pytest.mark.parametrize("name, hparams, expected", [
    ("aggan_multidomain", {"image_size": 32},
     ["n_layers_d=6", "n_layers_d=5", "multiple of 32"]),
    ("aggan_multidomain", {"image_size": 64, "n_domains": 1}, ["n_domains"]),
    ("cyclegan", {"image_size": 30}, ["image_size=30", "multiple of 4"]),
    ("cyclegan", {"norm": "layer"}, ["norm='layer'", "'instance'"]),
    ("cyclegan", {"gan_mode": "wgan"}, ["gan_mode='wgan'", "'lsgan'"]),
    ("aggan", {"norm": "group"}, ["norm='group'"]),
    ("aggan", {"curriculum_min_steps": -1}, ["curriculum_min_steps"]),
    ("uag", {"attention_norm": "group"}, ["attention_norm='group'"]),
    ("uag", {"attention_layers": "1x1"}, ["attention_layers='1x1'", "'authors'"]),
    ("uag", {"attention_stop_min_steps": -5}, ["attention_stop_min_steps"]),
    ("unit", {"n_shared": 9}, ["n_shared=9"]),
    ("unit", {"norm": "layer"}, ["norm='layer'"]),
    ("unit_da", {"n_classes": 1}, ["n_classes"]),
    ("dagan", {"distance": "l3"}, ["distance", "'l3'"]),
    ("sat", {"regularizer": "pixel", "vgg_weights": None}, ["regularizer", "'pixel'"]),
    ("sat", {"stage_epochs": (3,), "vgg_weights": None}, ["stage_epochs"]),
])
def test_constructor_refusals_name_the_option(name, hparams, expected):
    with pytest.raises(ValueError) as info:
        kag.models.build(name, **hparams)
    for text in expected:
        assert text in str(info.value), str(info.value)


def test_the_command_line_shows_a_constructor_refusal_as_exit_2(capsys, tmp_path):
    a, _ = kag.data.builtin.demo(n=6, size=32, seed=0)
    for i, image in enumerate(a):
        kag.training.callbacks.write_png(str(tmp_path / "faces" / "xyz"[i % 3] / f"{i}.png"),
                                         image)
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--model", "aggan_multidomain", "--data", str(tmp_path / "faces"),
                  "--set", "n_domains=3", "--image-size", "32", "--out",
                  str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert "Traceback" not in err
    assert "attngan train: error:" in err and "n_layers_d=5" in err
