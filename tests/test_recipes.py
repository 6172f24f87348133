"""Recipes are thin wrappers over `attngan train`: check what they ask for, and that they
fail clearly offline."""

import importlib.util
import os

import numpy as np
import pytest

import keras_attngan as kag
from keras_attngan import cli

RECIPES = os.path.join(os.path.dirname(__file__), "..", "recipes")


def load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(RECIPES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name, model, lr, extra", [
    ("cyclegan_horse2zebra", "cyclegan", None, []),
    ("uag_horse2zebra", "uag", 1e-4, ["attention_stop_epoch=30"]),
    ("uag_apple2orange", "uag", 1e-4, ["attention_stop_epoch=30"]),
    ("uag_summer2winter", "uag", 2e-4, ["masked_discriminator=false", "attention_stop_epoch=30"]),
])
def test_recipe_arguments(name, model, lr, extra):
    args = cli.parser().parse_args(load(name).RECIPE)
    assert args.model == model and args.image_size == 256 and args.batch_size == 1
    assert args.lr == lr and (args.set or []) == extra
    assert args.data_a.startswith("cycle_gan/")


def test_recipe_fails_clearly_offline(monkeypatch, tmp_path, capsys):
    import requests
    import tensorflow_datasets as tfds

    def offline(*args, **kwargs):
        raise requests.exceptions.ConnectionError("Failed to resolve host")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(SystemExit):
        cli.main(load("uag_horse2zebra").RECIPE + ["--out", str(tmp_path / "run")])
    assert "local image folders" in capsys.readouterr().err


def test_celeba_recipe_splits_by_smile_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=20):
        neutral, smiling = load("aggan_celeba_smile").domains(count=3)
        n = sum(1 for _ in neutral)
        s = sum(1 for _ in smiling)
    assert 0 < n <= 3 and 0 < s <= 3
    for image in neutral.take(1):
        assert image.shape[-1] == 3 and image.dtype == "uint8"


def test_celeba_recipe_fails_clearly_offline(monkeypatch):
    import requests
    import tensorflow_datasets as tfds

    from keras_attngan.data import DataError

    def offline(*args, **kwargs):
        raise requests.exceptions.ConnectionError("Failed to resolve host")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(DataError, match="celeb_a"):
        load("aggan_celeba_smile").domains()


def test_maps_data_splits_halves_and_fails_without_data(tmp_path):
    import numpy as np
    import tensorflow as tf

    from keras_attngan.data import DataError

    with pytest.raises(DataError, match="maps"):
        kag.data.maps_unpaired(str(tmp_path / "nowhere"))
    for split in ("train", "val"):
        (tmp_path / "maps" / split).mkdir(parents=True)
        side_by_side = np.concatenate([np.full((8, 8, 3), 10, np.uint8),
                                       np.full((8, 8, 3), 200, np.uint8)], axis=1)
        tf.io.write_file(str(tmp_path / "maps" / split / "1.png"),
                         tf.io.encode_png(side_by_side))
    photos, maps, val_photos = kag.data.maps_unpaired(str(tmp_path / "maps"))
    assert [int(np.array(i).mean()) for i in photos.images()] == [10]
    assert [int(np.array(i).mean()) for i in maps.images()] == [200]
    assert next(iter(val_photos.images())).shape == (8, 8, 3)


@pytest.mark.parametrize("name", ["unit_maps", "sat_maps"])
def test_maps_recipes_stop_clearly_without_data(name, monkeypatch):
    from keras_attngan.data import DataError

    monkeypatch.setattr("sys.argv", [name])
    with pytest.raises(DataError, match="No maps data"):
        load(name).main()


def test_sat_digits_recipe_reads_class_folders_and_mock_mnist(tmp_path):
    import numpy as np
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from keras_attngan.data import DataError

    recipe = load("sat_mnist_usps")
    with pytest.raises(DataError, match="sub-folder"):
        recipe.labelled_folder(str(tmp_path / "none"))
    for label in (3, 7):
        (tmp_path / "usps" / str(label)).mkdir(parents=True)
        tf.io.write_file(str(tmp_path / "usps" / str(label) / "a.png"),
                         tf.io.encode_png(np.full((16, 16, 1), 10 * label, np.uint8)))
    images, labels = recipe.labelled_folder(str(tmp_path / "usps"))
    assert images.shape == (2, 32, 32, 3) and labels.tolist() == [3, 7]
    with tfds.testing.mock_data(num_examples=4):
        digits, digit_labels = recipe.mnist(count=4)
    assert digits.shape == (4, 32, 32, 3) and digits.dtype == np.uint8
    assert digit_labels.shape == (4,)


def test_dagan_digits_recipe_loads_mock_data_and_fails_clearly_offline(monkeypatch):
    import requests
    import tensorflow_datasets as tfds

    from keras_attngan.data import DataError

    recipe = load("dagan_svhn_mnist")
    with tfds.testing.mock_data(num_examples=3):
        images, labels = recipe.digits("svhn_cropped", "train", count=3)
    assert images.shape == (3, 32, 32, 3) and labels.shape == (3,)

    def offline(*args, **kwargs):
        raise requests.exceptions.ConnectionError("Failed to resolve host")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(DataError, match="svhn_cropped"):
        recipe.digits("svhn_cropped", "train")


class _Captured(Exception):
    pass


def _capture_unpaired(monkeypatch):
    """Makes kag.data.unpaired record its arguments and stop the recipe there."""
    seen = {}

    def unpaired(a, b, **kwargs):
        seen.update(kwargs, a=a, b=b)
        raise _Captured

    monkeypatch.setattr(kag.data, "unpaired", unpaired)
    return seen


def test_digit_recipes_do_not_flip_digits_and_keep_test_digits_out(monkeypatch, tmp_path):
    import numpy as np
    import tensorflow as tf
    import tensorflow_datasets as tfds

    seen = _capture_unpaired(monkeypatch)
    monkeypatch.setattr("sys.argv", ["dagan_svhn_mnist"])
    with tfds.testing.mock_data(num_examples=4), pytest.raises(_Captured):
        load("dagan_svhn_mnist").main()
    assert seen["augment"] is False and seen["labels_a"] is not None

    for split, value in (("train", 10), ("test", 200)):
        for label in (1, 2):
            folder = tmp_path / "usps" / split / str(label)
            folder.mkdir(parents=True)
            tf.io.write_file(str(folder / "x.png"),
                             tf.io.encode_png(np.full((16, 16, 1), value, np.uint8)))
    seen.clear()
    monkeypatch.setattr("sys.argv", ["sat_mnist_usps", "--target-dir",
                                     str(tmp_path / "usps")])
    with tfds.testing.mock_data(num_examples=4), pytest.raises(_Captured):
        load("sat_mnist_usps").main()
    assert seen["augment"] is False
    assert np.all(seen["b"] == 10)  # SAT's target side holds only the train/ digits


def test_celeba_recipe_crops_faces_and_picks_at_random():
    import tensorflow_datasets as tfds

    recipe = load("aggan_celeba_smile")
    with tfds.testing.mock_data(num_examples=20):
        first, _ = recipe.domains(count=3, seed=0)
        again, _ = recipe.domains(count=3, seed=0)
        shapes = [tuple(image.shape) for image in first]
        assert [i.numpy().tobytes() for i in first] == [i.numpy().tobytes() for i in again]
    assert shapes and all(s[:2] == (178, 178) for s in shapes)
    # drawn from the whole split (not its first matching faces), each side its own flag
    flags = np.arange(100_000) % 3 == 0
    picked = recipe.choose(flags, True, 1000, seed=0)
    assert len(set(picked)) == 1000 and flags[picked].all()
    assert picked.max() > 90_000 and picked.min() < 10_000
    assert not flags[recipe.choose(flags, False, 1000, seed=0)].any()
    with pytest.raises(ValueError, match="only"):
        recipe.choose(flags[:30], True, 11, seed=0)


def test_unit_da_recipes_load_mock_data_and_stop_clearly_without_data(monkeypatch,
                                                                     tmp_path):
    import numpy as np
    import requests
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from keras_attngan.data import DataError

    svhn_mnist = load("unit_svhn_mnist")
    with tfds.testing.mock_data(num_examples=3):
        images, labels = svhn_mnist.digits("svhn_cropped", "extra", count=3)
    assert images.shape == (3, 32, 32, 3) and labels.shape == (3,)
    doubled = svhn_mnist.with_inversions(images)
    assert np.array_equal(doubled[3:], 255 - images)
    assert svhn_mnist.epochs_for(200_000, 531_131, 64) == 25  # 8,298 steps an epoch

    seen = _capture_unpaired(monkeypatch)
    monkeypatch.setattr("sys.argv", ["unit_svhn_mnist"])
    with tfds.testing.mock_data(num_examples=4), pytest.raises(_Captured):
        svhn_mnist.main()
    assert seen["augment"] is False and seen["labels_a"] is not None
    assert len(seen["b"]) == 8  # MNIST and its inversions

    mnist_usps = load("unit_mnist_usps")
    monkeypatch.setattr("sys.argv", ["unit_mnist_usps"])
    with pytest.raises(DataError, match="usps-dir"):
        mnist_usps.main()
    for split, value in (("train", 10), ("test", 200)):
        for label in (1, 2):
            folder = tmp_path / "usps" / split / str(label)
            folder.mkdir(parents=True)
            for i in range(3):
                tf.io.write_file(str(folder / f"{i}.png"), tf.io.encode_png(
                    np.full((16, 16, 1), value, np.uint8)))
    images, labels = mnist_usps.usps(str(tmp_path / "usps"), "train", count=4)
    assert images.shape == (4, 32, 32, 3) and set(labels) <= {1, 2}
    for reverse, side in ((False, "b"), (True, "a")):  # USPS train/ only, never test/
        seen.clear()
        monkeypatch.setattr("sys.argv", ["unit_mnist_usps", "--usps-dir",
                                         str(tmp_path / "usps")] + ["--reverse"] * reverse)
        with tfds.testing.mock_data(num_examples=4), pytest.raises(_Captured):
            mnist_usps.main()
        assert np.all(seen[side] == 10) and seen["labels_a"] is not None

    def offline(*args, **kwargs):
        raise requests.exceptions.ConnectionError("Failed to resolve host")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(DataError, match="svhn_cropped"):
        svhn_mnist.digits("svhn_cropped", "extra")


def test_rafd_recipe_crops_into_expression_folders_and_stops_without_data(tmp_path):
    import numpy as np
    import tensorflow as tf

    from keras_attngan.data import DataError

    recipe = load("aggan_rafd")
    with pytest.raises(DataError, match="rafd-dir"):
        recipe.prepare(str(tmp_path / "none"), str(tmp_path / "data"))
    (tmp_path / "rafd").mkdir()
    for i, expression in enumerate(["happy", "sad"]):
        portrait = np.full((60, 40, 3), 50 * (i + 1), np.uint8)
        tf.io.write_file(str(tmp_path / "rafd" / f"Rafd090_0{i}_Caucasian_male_{expression}"
                                                 "_frontal.jpg"), tf.io.encode_jpeg(portrait))
    assert recipe.prepare(str(tmp_path / "rafd"), str(tmp_path / "data"), size=32) == 2
    paths, labels, names = kag.data.domain_files(str(tmp_path / "data"))
    assert names == ("happy", "sad") and labels.tolist() == [0, 1]
    assert tf.io.decode_png(tf.io.read_file(paths[0])).shape == (32, 32, 3)
    args = cli.parser().parse_args(recipe.recipe(str(tmp_path / "data"), 4824, "runs/x"))
    assert args.model == "aggan_multidomain" and args.image_size == 128
    assert args.batch_size == 16 and args.lr == 1e-4 and args.set == ["n_domains=8"]
    assert args.epochs == 664 and args.decay_start == 332  # 200,000 x 16 / 4,824
