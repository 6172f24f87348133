import numpy as np
import tensorflow as tf

from keras_attngan.models import ImagePool


def images(start, n=2):
    return tf.constant(np.arange(start, start + n, dtype="float32")[:, None, None, None]
                       * np.ones((n, 2, 2, 1), "float32"))


def test_pool_fills_then_mixes_history_inside_tf_function():
    pool = ImagePool(4, (2, 2, 1))
    query = tf.function(pool.query)
    # while filling, each image is stored and returned as is
    assert np.array_equal(query(images(0)).numpy(), images(0).numpy())
    assert np.array_equal(query(images(2)).numpy(), images(2).numpy())
    assert int(pool.count.read_value()) == 4
    stored = set(pool.images.read_value().numpy()[:, 0, 0, 0])
    assert stored == {0, 1, 2, 3}
    returned = []
    for step in range(50):
        out = query(images(100 + 2 * step)).numpy()[:, 0, 0, 0]
        returned.extend(out)
    old = [v for v in returned if v < 100]
    history = sum(1 for i, v in enumerate(returned) if v != 100 + i)
    assert 25 < history < 75  # about half come from the history (p = 0.5)
    assert len(set(pool.images.read_value().numpy()[:, 0, 0, 0]) - {0, 1, 2, 3}) > 0
    assert old  # old images do come back


def test_pool_size_zero_is_identity():
    pool = ImagePool(0, (2, 2, 1))
    x = images(5)
    assert pool.query(x) is x


def test_pool_is_per_replica_under_mirrored_strategy():
    strategy = tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"])
    with strategy.scope():
        pool = ImagePool(2, (2, 2, 1))

    @tf.function
    def step(x):
        return strategy.run(pool.query, (x,))

    data = strategy.experimental_distribute_values_from_function(
        lambda ctx: images(10 * ctx.replica_id_in_sync_group, 1))
    outputs = strategy.experimental_local_results(step(data))
    assert [float(o.numpy()[0, 0, 0, 0]) for o in outputs] == [0.0, 10.0]
    local = [v.numpy()[0, 0, 0, 0] for v in strategy.experimental_local_results(pool.images)]
    assert local == [0.0, 10.0]  # each replica stored its own image


def test_a_restored_pool_reaches_every_replica():
    """Run backups restore the pool with set_state: under MirroredStrategy every
    replica's history and count get the saved ones, not only the first replica's."""
    strategy = tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"])
    with strategy.scope():
        pool = ImagePool(3, (4, 4, 3))
    images = np.random.default_rng(0).uniform(-1, 1, (3, 4, 4, 3)).astype("float32")
    pool.set_state({"images": images, "count": np.int32(2)})
    assert len(pool.images.values) == 2
    for component in pool.images.values:
        np.testing.assert_array_equal(component.numpy(), images)
    assert [int(component.numpy()) for component in pool.count.values] == [2, 2]
    np.testing.assert_array_equal(pool.get_state()["images"], images)
