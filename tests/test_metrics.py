"""kag.metrics: KID, FID and IS against independent NumPy/SciPy references, the paired
metrics, mask IoU, domain-adaptation accuracy and the feature networks."""

import gc
import warnings
import weakref

import keras
import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import tensorflow as tf

import keras_attngan as kag
from keras_attngan.networks.vgg import WeightsUnavailableError
from conftest import write_images

M = kag.metrics


# ---------------------------------------------------------- independent references
def reference_mmd2(x, y):
    """Unbiased MMD² with k(a, b) = (aᵀb / d + 1)³, pair by pair (Gretton et al. 2012)."""
    d = x.shape[1]
    k = lambda a, b: (np.dot(a, b) / d + 1.0) ** 3  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def reference_fid(x, y):
    """Heusel et al.'s formula with SciPy's general matrix square root."""
    mu_x, mu_y = x.mean(0), y.mean(0)
    s_x, s_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = scipy.linalg.sqrtm(s_x @ s_y).real
    return float(np.sum((mu_x - mu_y) ** 2) + np.trace(s_x + s_y - 2 * root))


@pytest.fixture(scope="module")
def features():
    rng = np.random.default_rng(1)
    mixing = rng.normal(size=(12, 12))
    real = rng.normal(size=(120, 12)) @ mixing
    fake = rng.normal(size=(90, 12)) @ (mixing + 0.3 * rng.normal(size=(12, 12))) + 0.5
    return real, fake


def test_kid_matches_a_pairwise_reference_on_the_documented_subsets(features):
    real, fake = features
    mean, std = M.kid_from_features(real, fake, subsets=4, subset_size=30, seed=7)
    rng = np.random.default_rng(7)  # the sampling the docstring promises
    values = []
    for _ in range(4):
        x = real[rng.choice(len(real), 30, replace=False)]
        y = fake[rng.choice(len(fake), 30, replace=False)]
        values.append(reference_mmd2(x, y))
    assert mean == pytest.approx(np.mean(values), rel=1e-6)
    assert std == pytest.approx(np.std(values), rel=1e-6)
    # the whole sets as one subset: order-free, so symmetric in its arguments
    whole = M.kid_from_features(real[:90], fake, subsets=1, subset_size=90)
    assert whole[0] == pytest.approx(reference_mmd2(real[:90], fake), rel=1e-6)
    assert whole[1] == 0.0
    swapped = M.kid_from_features(fake, real[:90], subsets=1, subset_size=90)
    assert swapped[0] == pytest.approx(whole[0], rel=1e-9)


def test_fid_matches_scipy_and_is_symmetric(features):
    real, fake = features
    fid = M.fid_from_features(real, fake)
    assert fid == pytest.approx(reference_fid(real, fake), rel=1e-6)
    assert M.fid_from_features(fake, real) == pytest.approx(fid, rel=1e-9)
    assert M.fid_from_features(real, real) == pytest.approx(0.0, abs=1e-6)
    # fewer samples than dimensions: singular covariances, still finite and >= 0
    few = M.fid_from_features(real[:5], fake[:6])
    assert np.isfinite(few) and few > 0


def test_same_distribution_scores_near_zero_and_a_shift_clearly_above():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(1000, 16))
    half_1, half_2 = a[:500], a[500:]
    shifted = rng.normal(size=(500, 16)) + 0.5
    kid_same, kid_std = M.kid_from_features(half_1, half_2, subsets=20, subset_size=100)
    kid_shift, _ = M.kid_from_features(half_1, shifted, subsets=20, subset_size=100)
    assert abs(kid_same) < 3 * kid_std + 1e-3
    assert kid_shift > 10 * max(abs(kid_same), kid_std)
    fid_same, fid_shift = M.fid_from_features(half_1, half_2), M.fid_from_features(
        half_1, shifted)
    assert fid_same < 1.0  # small-sample bias only
    assert fid_shift > 16 * 0.5 ** 2  # the mean shift alone is 4.0
    assert fid_shift > 5 * fid_same


def test_kid_is_unbiased_and_not_clipped():
    rng = np.random.default_rng(3)
    values = [M.kid_from_features(rng.normal(size=(50, 8)), rng.normal(size=(50, 8)),
                                  subsets=1, subset_size=50)[0] for _ in range(300)]
    values = np.asarray(values)
    standard_error = values.std() / np.sqrt(len(values))
    assert abs(values.mean()) < 3 * standard_error
    assert (values < 0).sum() > 50  # negative estimates are kept


def test_inception_score_against_scipy_entropy():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(40, 5)) * 3
    probs = M.softmax(logits)
    mean, std = M.inception_score(probs, splits=4)
    reference = []
    for part in np.array_split(probs, 4):
        marginal = part.mean(0)
        reference.append(np.exp(np.mean([scipy.stats.entropy(p, marginal) for p in part])))
    assert mean == pytest.approx(np.mean(reference), rel=1e-6)
    assert std == pytest.approx(np.std(reference), rel=1e-6)
    # confident and evenly spread over K classes: K; all alike: 1
    one_hot = np.eye(5)[np.arange(40) % 5]
    assert M.inception_score(one_hot, splits=2)[0] == pytest.approx(5.0)
    assert M.inception_score(np.full((10, 5), 0.2), splits=1)[0] == pytest.approx(1.0)


@pytest.mark.parametrize("call, error, words", [
    (lambda f: M.kid_from_features(f[:30], f, subset_size=50), ValueError, "subset_size"),
    (lambda f: M.kid_from_features(f, f, subsets=0), ValueError, "subsets"),
    (lambda f: M.kid_from_features(f, f[:, :4]), ValueError, "feature sizes"),
    (lambda f: M.fid_from_features(f[0], f), ValueError, "(N, D)"),
    (lambda f: M.fid_from_features(f[:1], f), ValueError, "at least 2"),
    (lambda f: M.fid_from_features(np.where(np.arange(len(f))[:, None] == 3, np.nan, f), f),
     ValueError, "NaN"),
    (lambda f: M.kid_from_features(f.astype(str), f), TypeError, "numeric"),
    (lambda f: M.inception_score(np.abs(f)), ValueError, "probabilities"),
    (lambda f: M.inception_score(np.full((5, 2), 0.5), splits=10), ValueError, "splits"),
])
def test_bad_feature_inputs_raise_clear_errors(call, error, words):
    f = np.random.default_rng(5).normal(size=(60, 8))
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        call(f)


# ------------------------------------------------------------------------ paired
def test_mse_psnr_and_pixel_accuracies_on_known_images():
    target = np.zeros((2, 4, 4, 3), np.uint8)
    predicted = target.copy()
    predicted[0, 0, 0] = (10, 0, 0)  # UNIT: right (<= 16); SAT: right (sum 10 <= 12)
    predicted[0, 0, 1] = (8, 8, 0)   # UNIT: right; SAT: wrong (sum 16)
    predicted[1] = 17                # UNIT and SAT: all wrong
    assert M.mse(predicted, target, per_image=True) == pytest.approx(
        [(100 + 128) / 48, 17 ** 2])
    assert M.mse(predicted, target) == pytest.approx(((100 + 128) / 48 + 289) / 2)
    per = M.psnr(predicted, target, per_image=True)
    assert per[1] == pytest.approx(10 * np.log10(255 ** 2 / 289))
    assert M.psnr(target, target) == float("inf")
    assert M.pixel_accuracy(predicted, target, per_image=True) == pytest.approx([1.0, 0.0])
    assert M.pixel_accuracy(predicted, target, M.SAT_TOLERANCE, "sum",
                            per_image=True) == pytest.approx([15 / 16, 0.0])
    # float [-1, 1] and uint8 agree
    assert M.mse(predicted / 127.5 - 1, target) == pytest.approx(M.mse(predicted, target))


def test_ssim_matches_tensorflow_and_is_one_for_identical_images():
    rng = np.random.default_rng(6)
    a = rng.integers(0, 256, (3, 32, 32, 3)).astype(np.uint8)
    noisy = np.clip(a + rng.normal(0, 30, a.shape), 0, 255).astype(np.uint8)
    ours = M.ssim(noisy, a, per_image=True)
    theirs = tf.image.ssim(tf.constant(noisy, tf.float32), tf.constant(a, tf.float32),
                           max_val=255.0).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    assert M.ssim(a, a) == pytest.approx(1.0)
    noisier = np.clip(a + rng.normal(0, 90, a.shape), 0, 255).astype(np.uint8)
    assert M.ssim(noisier, a) < M.ssim(noisy, a) < 0.95
    with pytest.raises(ValueError, match="window"):
        M.ssim(a[:, :8, :8], a[:, :8, :8])


def test_mask_iou():
    truth = np.zeros((2, 4, 4), np.float32)
    truth[0, :2] = 1.0                   # 8 pixels
    predicted = np.zeros((2, 4, 4, 1), np.float32)
    predicted[0, :1, :, 0] = 0.9          # 4 of them
    predicted[0, 3, 0, 0] = 0.8           # and one outside
    assert M.mask_iou(predicted, truth, per_image=True) == pytest.approx([4 / 9, 1.0])
    assert M.mask_iou((truth * 255).astype(np.uint8), truth) == 1.0
    with pytest.raises(ValueError, match="differ"):
        M.mask_iou(predicted[:1], truth)


def test_paired_metrics_refuse_bad_images():
    a = np.zeros((1, 4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="Shapes differ"):
        M.psnr(a, a[:, :2])
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        M.mse(np.full((1, 4, 4, 3), 200.0), a)
    with pytest.raises(TypeError, match="uint8"):
        M.mse(a.astype(np.int32), a)


def test_translated_accuracy_with_a_given_classifier():
    # a "classifier" that reads the digit from the mean brightness: class 1 if bright
    inputs = keras.Input((8, 8, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    logits = keras.layers.Dense(2, kernel_initializer="zeros")(pooled)
    classifier = keras.Model(inputs, logits)
    classifier.layers[-1].set_weights([np.array([[-1, 1]] * 3, np.float32) * 10,
                                       np.array([5, -5], np.float32)])
    images = np.zeros((10, 8, 8, 3), np.uint8)
    images[5:] = 255
    labels = np.array([0] * 5 + [1] * 4 + [0])  # the last one's digit was lost
    assert M.translated_accuracy(images, labels, classifier) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="uint8"):
        M.translated_accuracy(images / 255.0, labels, classifier)
    with pytest.raises(ValueError, match="target_images"):
        M.translated_accuracy(images, labels)


# ----------------------------------------------------------------- feature networks
def tiny_network(size=16, logits=True):
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = {"features": keras.layers.Dense(6, name="features")(x)}
    if logits:
        outputs["logits"] = keras.layers.Dense(4, name="logits")(x)
    return keras.Model(inputs, outputs, name="tiny_features")


def test_compute_features_from_arrays_datasets_and_folders(tmp_path, demo_arrays):
    a, _ = demo_arrays
    net = tiny_network(32)
    expected = net(a[:10].astype("float32") / 127.5 - 1)["features"].numpy()
    from_array = M.compute_features(a[:10], net, batch_size=4, progress=False)["features"]
    np.testing.assert_allclose(from_array, expected, rtol=1e-5, atol=1e-6)
    from_dataset = M.compute_features(tf.data.Dataset.from_tensor_slices(a[:10]), net,
                                      batch_size=3, progress=False)
    np.testing.assert_allclose(from_dataset["features"], expected, rtol=1e-5, atol=1e-6)
    write_images(str(tmp_path / "imgs"), a[:10])
    both = M.compute_features(str(tmp_path / "imgs"), net, batch_size=4, progress=False,
                              outputs=("features", "logits"))
    np.testing.assert_allclose(both["features"], expected, rtol=1e-5, atol=1e-6)
    assert both["logits"].shape == (10, 4)


def test_compute_features_resizes_and_says_so_and_refuses_bad_images(demo_arrays):
    a, _ = demo_arrays
    net = tiny_network(16)
    with pytest.warns(UserWarning, match="Resizing 32x32 images to 16x16"):
        out = M.compute_features(a[:4], net, progress=False)
    assert out["features"].shape == (4, 6)
    with pytest.raises(ValueError, match="grayscale"):
        M.compute_features(a[:4, ..., :1], net, progress=False)
    nan = a[:4].astype("float32") / 127.5 - 1
    nan[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        M.compute_features(nan, net, progress=False)
    with pytest.raises(ValueError, match="no 'logits'"):
        M.compute_features(a[:4], tiny_network(16, logits=False), progress=False,
                           outputs=("logits",))


def test_feature_computation_streams_one_batch_at_a_time():
    """The extractor holds no images: each batch is freed before the next few come."""
    net = tiny_network(16)
    alive, most = [], [0]

    def batches():
        for i in range(8):
            gc.collect()
            most[0] = max(most[0], sum(ref() is not None for ref in alive))
            batch = np.full((8, 16, 16, 3), i, np.uint8)
            alive.append(weakref.ref(batch))
            yield batch

    out = M.compute_features(batches(), net, batch_size=8, progress=False)
    assert out["features"].shape == (64, 6)
    assert most[0] <= 2


def test_any_keras_model_output_form_is_a_feature_network(demo_arrays):
    a, _ = demo_arrays
    inputs = keras.Input((None, None, 3))
    spatial = keras.Model(inputs, keras.layers.Conv2D(5, 3)(inputs))  # (N, h, w, 5)
    out = M.feature_extractor(spatial)(a[:2])
    assert out["features"].shape == (2, 5) and "logits" not in out
    pair = keras.Model(inputs, [keras.layers.GlobalAveragePooling2D()(inputs),
                                keras.layers.GlobalMaxPooling2D()(inputs)])
    out = M.feature_extractor(pair)(a[:2])
    assert out["features"].shape == (2, 3) and out["logits"].shape == (2, 3)
    with pytest.raises(TypeError, match="feature network"):
        M.FeatureExtractor("not a model")


def test_inception_v3_random_init_gives_pool3_and_logits():
    extractor = M.inception_v3(weights=None)
    assert M.RANDOM_INIT in extractor.description and extractor.image_size == 299
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = M.compute_features(np.zeros((2, 64, 64, 3), np.uint8), extractor,
                                 progress=False, outputs=("features", "logits"))
    assert out["features"].shape == (2, 2048) and out["logits"].shape == (2, 1000)
    # the random weights are seeded (Glorot uniform from numpy seed 0): the same in every run
    kernel = next(v for v in extractor.model.weights if len(v.shape) == 4)
    h, w, c_in, c_out = kernel.shape
    limit = np.sqrt(6.0 / (h * w * (c_in + c_out)))
    expected = np.random.default_rng(0).uniform(-limit, limit, kernel.shape)
    np.testing.assert_allclose(kernel.numpy(), expected, rtol=1e-6)


def test_inception_offline_error_names_the_option(monkeypatch, tmp_path):
    def offline(**kwargs):
        raise Exception("URL fetch failure on https://...: [Errno -2] Name or service "
                        "not known")

    monkeypatch.setattr(keras.applications, "InceptionV3", offline)
    with pytest.raises(WeightsUnavailableError, match="--inception-weights PATH") as error:
        M.inception_v3("imagenet")
    assert "weights=PATH" in str(error.value)
    with pytest.raises(WeightsUnavailableError, match="No InceptionV3 weights file"):
        M.inception_v3(str(tmp_path / "missing.h5"))


def test_reference_graph_by_path(tmp_path):
    """A frozen graph laid out as the reference FID graph (input ExpandDims, pool_3,
    softmax/logits/MatMul, and a batch-1 reshape the extractor must not depend on)."""
    rng = np.random.default_rng(8)
    w_pool = rng.normal(size=(3, 7)).astype(np.float32)
    w_logits = rng.normal(size=(7, 5)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, [1, None, None, 3], name="ExpandDims")
        resized = tf.compat.v1.image.resize_bilinear(images, [299, 299])
        scaled = (resized - 128.0) / 128.0
        pooled = tf.reduce_mean(scaled, axis=[1, 2], keepdims=True)  # (N, 1, 1, 3)
        pool_3 = tf.nn.relu(tf.nn.conv2d(pooled, tf.constant(w_pool[None, None]), 1, "VALID"),
                            name="pool_3")
        flat = tf.reshape(pool_3, [1, 7], name="pool_3/_reshape")
        logits = tf.matmul(flat, tf.constant(w_logits), name="softmax/logits/MatMul")
        tf.nn.softmax(logits, name="softmax")
    path = str(tmp_path / "classify_image_graph_def.pb")
    with open(path, "wb") as f:
        f.write(graph.as_graph_def().SerializeToString())

    extractor = M.inception_v3(path)  # a .pb given as the weights
    assert "classify_image_graph_def.pb" in extractor.description
    x = rng.integers(0, 256, (3, 40, 40, 3)).astype(np.uint8)
    out = M.compute_features(x, extractor, progress=False, outputs=("features", "logits"))
    resized = tf.image.resize(x.astype(np.float32), (299, 299), "bilinear").numpy()
    mean = ((resized - 128.0) / 128.0).mean(axis=(1, 2))
    pool = np.maximum(mean @ w_pool, 0)
    np.testing.assert_allclose(out["features"], pool, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(out["logits"], pool @ w_logits, rtol=1e-3, atol=1e-4)
    with pytest.raises(WeightsUnavailableError, match="tensors"):
        M.frozen_graph(path, pool3_name="nothing:0")
    (tmp_path / "junk.pb").write_bytes(b"not a graph")
    with pytest.raises(WeightsUnavailableError):
        M.frozen_graph(str(tmp_path / "junk.pb"))
