"""One worker of the two-process MultiWorkerMirroredStrategy test (run by test_multiworker).

Reads TF_CONFIG, trains a tiny CycleGAN for a few steps and prints a JSON line with the
weights' checksum, which must match across workers.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import keras_attngan as kag  # noqa: E402


def main(out_dir: str) -> None:
    strategy = kag.training.strategy()
    a, b = kag.data.builtin.demo(n=16, size=32, seed=0)
    ds = kag.data.unpaired(a, b, image_size=32, load_size=36, batch_size=4, seed=0)
    with strategy.scope():
        model = kag.models.build("cyclegan", image_size=32, ngf=8, ndf=8, n_blocks=2)
        model.set_weights([np.full(w.shape, 0.01, "float32") * (i % 3 - 1)
                           for i, w in enumerate(model.get_weights())])
        model.compile()
    history = model.fit(ds, epochs=1, steps_per_epoch=3, verbose=0,
                        callbacks=kag.callbacks.default(model, out_dir))
    weights = model.get_weights()
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "checksum": float(sum(np.abs(w).sum() for w in weights)),
        "iterations": int(np.array(model.generator_optimizer.iterations.numpy())),
        "loss": history.history["cycle_a"][-1],
    }), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
