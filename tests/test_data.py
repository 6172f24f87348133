import os

import numpy as np
import pytest
import tensorflow as tf

import keras_attngan as kag
from keras_attngan.data import DataError
from conftest import write_images


def batches(ds):
    return [(a.numpy(), b.numpy()) for a, b in ds]


def test_array_pipeline_shapes_range_and_epoch_is_max_of_sides(demo_arrays):
    a, b = demo_arrays
    ds = kag.data.unpaired(a[:10], b[:4], image_size=24, load_size=28, batch_size=2, seed=0)
    out = batches(ds)
    assert len(out) == 5  # max(10, 4) pairs, in batches of 2
    for x, y in out:
        assert x.shape == y.shape == (2, 24, 24, 3)
        assert x.dtype == np.float32
        assert -1 <= x.min() and x.max() <= 1
    # the larger side is seen exactly once per epoch
    ds = kag.data.unpaired(a[:10], b[:4], image_size=32, batch_size=1, augment=False, seed=0)
    seen = {x[0].tobytes() for x, _ in batches(ds)}
    assert len(seen) == 10


def test_seed_reproduces_and_epochs_reshuffle(demo_arrays):
    a, b = demo_arrays
    make = lambda seed: kag.data.unpaired(a, b, image_size=24, load_size=28, seed=seed)
    first, again, other = batches(make(1)), batches(make(1)), batches(make(2))
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(first, again))
    assert not all(np.array_equal(x[0], y[0]) for x, y in zip(first, other))
    ds = make(1)
    epoch1, epoch2 = batches(ds), batches(ds)
    assert not all(np.array_equal(x[0], y[0]) for x, y in zip(epoch1, epoch2))


def test_sides_are_shuffled_independently(demo_arrays):
    a, _ = demo_arrays
    ds = kag.data.unpaired(a, a, image_size=32, augment=False, seed=3)
    pairs = batches(ds)
    assert sum(np.array_equal(x, y) for x, y in pairs) < len(pairs) // 2


def test_eval_mode_resizes_only(demo_arrays):
    a, b = demo_arrays
    ds = kag.data.unpaired(a[:2], b[:2], image_size=16, augment=False, shuffle=False)
    x, _ = batches(ds)[0]
    expected = tf.image.resize(a[0].astype("float32"), (16, 16), "bicubic")
    expected = np.clip(expected.numpy(), 0, 255) / 127.5 - 1
    assert np.allclose(x[0], expected, atol=1e-5)


def test_folder_formats_nested_grayscale_and_rgba(tmp_path, demo_arrays):
    a, b = demo_arrays
    root = tmp_path / "imgs"
    write_images(str(root / "nested" / "deeper"), a[:2], "jpg")
    rgb = a[2]
    tf.io.write_file(str(root / "gray.png"), tf.io.encode_png(rgb[..., :1]))
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 128, np.uint8)], -1)
    tf.io.write_file(str(root / "rgba.png"), tf.io.encode_png(rgba))
    tf.io.write_file(str(root / "anim.gif"), _gif(rgb))
    tf.io.write_file(str(root / "pic.bmp"), _bmp(rgb))
    tf.io.write_file(str(root / "notes.txt"), "not an image")
    source = kag.data.load_source(str(root))
    assert source.size == 6
    images = [im.numpy() for im in source.images()]
    assert all(im.shape[-1] == 3 and im.dtype == np.uint8 for im in images)
    by_name = dict(zip([os.path.basename(f) for f in source.files], images))
    assert np.array_equal(by_name["rgba.png"], rgb)  # alpha dropped
    gray = by_name["gray.png"]
    assert np.array_equal(gray[..., 0], gray[..., 2])  # grayscale became RGB
    assert np.array_equal(by_name["pic.bmp"], rgb)
    assert by_name["anim.gif"].shape == rgb.shape  # first frame
    ds = kag.data.unpaired(str(root), b, image_size=24, load_size=28, batch_size=3)
    assert batches(ds)[0][0].shape == (3, 24, 24, 3)


def _bmp(rgb):
    h, w, _ = rgb.shape
    row = (w * 3 + 3) // 4 * 4
    pixels = b"".join(rgb[y, :, ::-1].tobytes().ljust(row, b"\0") for y in range(h - 1, -1, -1))
    header = b"BM" + (54 + len(pixels)).to_bytes(4, "little") + b"\0\0\0\0" + \
        (54).to_bytes(4, "little")
    info = (40).to_bytes(4, "little") + w.to_bytes(4, "little") + h.to_bytes(4, "little") + \
        (1).to_bytes(2, "little") + (24).to_bytes(2, "little") + b"\0" * 24
    return header + info + pixels


def _gif(rgb):
    # A minimal 2-frame GIF with a 2-colour palette (black/white), uncompressed LZW codes.
    h, w = rgb.shape[:2]
    palette = b"\0\0\0\xff\xff\xff"
    out = b"GIF89a" + w.to_bytes(2, "little") + h.to_bytes(2, "little") + b"\x80\0\0" + palette
    for frame in range(2):
        out += b"\x2c\0\0\0\0" + w.to_bytes(2, "little") + h.to_bytes(2, "little") + b"\0"
        out += b"\x02" + _lzw_literal([frame] * (w * h)) + b"\0"
    return out + b"\x3b"


def _lzw_literal(indices):
    # min code size 2: clear=4, end=5, 3-bit codes; emit a clear every few codes so the
    # code width never grows.
    bits, codes = [], [4]
    for i, v in enumerate(indices):
        codes.append(v)
        if i % 2 == 1:
            codes.append(4)
    codes.append(5)
    for c in codes:
        bits.extend((c >> k) & 1 for k in range(3))
    data = bytes(sum(bit << k for k, bit in enumerate(bits[i:i + 8]))
                 for i in range(0, len(bits), 8))
    return b"".join(bytes([len(data[i:i + 255])]) + data[i:i + 255]
                    for i in range(0, len(data), 255))


def test_corrupt_file_is_named_or_skipped_and_counted(image_folders):
    folder_a, folder_b = image_folders
    bad = os.path.join(folder_a, "broken.png")
    with open(bad, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n this is not really a png")
    with pytest.raises(DataError, match="broken.png") as error:
        kag.data.unpaired(folder_a, folder_b, image_size=24)
    assert "skip_corrupt" in str(error.value)
    with pytest.warns(UserWarning, match="Skipped 1 corrupt"):
        source = kag.data.load_source(folder_a, skip_corrupt=True)
    assert source.size == 6 and source.skipped == [bad]
    ds = kag.data.unpaired(folder_a, folder_b, image_size=24, load_size=28, batch_size=2,
                           skip_corrupt=True)
    assert len(batches(ds)) == 3  # 6 good images on the larger side: no crash mid-epoch


def test_bad_inputs_fail_clearly(tmp_path, demo_arrays):
    a, b = demo_arrays
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="No images in"):
        kag.data.unpaired(str(tmp_path / "empty"), b)
    with pytest.raises(DataError, match="dtype float32"):
        kag.data.unpaired(a.astype("float32"), b)
    with pytest.raises(DataError, match=r"shape \(16, 32, 32\)"):
        kag.data.unpaired(a[..., 0], b)
    with pytest.raises(DataError, match="neither a folder nor"):
        kag.data.unpaired(str(tmp_path / "missing"), b)
    with pytest.raises(DataError, match="batch_size=32 is larger"):
        kag.data.unpaired(a, b, image_size=32, batch_size=32)
    with pytest.raises(DataError, match="Unknown tensorflow-datasets name"):
        kag.data.unpaired("surely_not_a_dataset/x:train", b)


def test_tf_data_dataset_source(demo_arrays):
    a, b = demo_arrays
    ds_a = tf.data.Dataset.from_tensor_slices({"image": a[:5], "label": np.arange(5)})
    ds_b = tf.data.Dataset.from_tensor_slices((b[:3, ..., :1], np.arange(3)))  # grayscale
    out = batches(kag.data.unpaired(ds_a, ds_b.filter(lambda x, y: True), image_size=32,
                                    augment=False))
    assert len(out) == 5 and out[0][1].shape == (1, 32, 32, 3)


def test_tfds_source_offline_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=5):
        ds = kag.data.unpaired("cycle_gan/horse2zebra:trainA",
                               "cycle_gan/horse2zebra:trainB", image_size=16, load_size=20,
                               batch_size=1, seed=0)
        out = batches(ds)
    assert len(out) == 5
    assert out[0][0].shape == (1, 16, 16, 3) and -1 <= out[0][0].min()


def test_tfds_download_failure_says_what_to_do(monkeypatch, demo_arrays):
    import requests
    import tensorflow_datasets as tfds

    def offline(*args, **kwargs):
        raise requests.exceptions.ConnectionError("Failed to resolve host")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(DataError, match="could not download|Could not download") as error:
        kag.data.unpaired("cycle_gan/horse2zebra:trainA", demo_arrays[1])
    assert "folder" in str(error.value) and "data_dir" in str(error.value)


def test_dataset_shards_across_replicas(demo_arrays):
    a, b = demo_arrays
    ds = kag.data.unpaired(a[:8], b[:8], image_size=32, batch_size=4, augment=False,
                           shuffle=False)
    strategy = tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"])
    dist = strategy.experimental_distribute_dataset(ds)
    global_batch = next(iter(ds))[0].numpy()
    per_replica = next(iter(dist))[0]
    parts = [t.numpy() for t in strategy.experimental_local_results(per_replica)]
    assert [p.shape[0] for p in parts] == [2, 2]
    assert np.array_equal(np.concatenate(parts), global_batch)


def test_demo_varieties_are_labels_that_only_the_object_shows():
    plain = kag.data.builtin.make_domain("a", 40, 32, seed=3)
    images, masks, labels = kag.data.builtin.make_domain(
        "a", 40, 32, seed=3, return_masks=True, varieties=2, return_labels=True)
    assert labels.shape == (40,) and set(labels) == {0, 1}
    background = masks[..., None] == 0
    # same backgrounds as the plain demo; the object's brightness follows its label
    assert np.array_equal(np.where(background, images, 0), np.where(background, plain, 0))
    red = [images[i][masks[i] > 0.9][:, 0].mean() for i in range(40)]
    assert max(r for r, l in zip(red, labels) if l == 0) < min(
        r for r, l in zip(red, labels) if l == 1)
    with pytest.raises(ValueError, match="varieties"):
        kag.data.builtin.make_domain("a", 2, varieties=0)
