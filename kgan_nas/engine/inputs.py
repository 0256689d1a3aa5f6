"""Preparing a search's shared inputs: data file, feature extractor, real features.

Before any candidate runs, the search writes what every worker needs once:
the data set as an `.npz` in the cache (workers get its path, not the
arrays), the feature extractor (the domain classifier, trained once per data
set and cached), the real images' features and the reference scores
(`baselines.json`). The result is the `WorkerSpec` every executor hands to
its workers. A grid of held-out real images (`samples/real.png`) is saved
beside the generations' grids, for the report to compare with.
"""

import os
import sys

import cloudpickle
import numpy as np

from kgan_nas.store.atomic import atomic_write
from kgan_nas.store.atomic import atomic_write_json
from kgan_nas.store.cache import cache_root

# The real-data grid under `<run>/samples/`, as many images as a candidate's grid.
REAL_GRID = "real.png"
REAL_GRID_IMAGES = 64


def prepare_worker_files(
    run_dir, data, space, evaluation, extractor_name, backend, keras_callbacks, say=print
):
    """Writes the data, the extractor and the real features workers need (once).

    Also saves `samples/real.png`, a grid of held-out real images, once.

    Args:
        run_dir: The `kgan_nas.store.run_dir.RunDir`.
        data: The `kgan_nas.data.ImageData`.
        space: The `SearchSpace`.
        evaluation: The `EvaluationConfig`.
        extractor_name: `"domain"` or `"inception"`.
        backend: Keras backend for the workers, or None for the current one.
        keras_callbacks: Keras callbacks for every candidate's `fit`.
        say: Prints a set-up message (`print`, or a no-op when quiet).

    Returns:
        The `kgan_nas.executors.WorkerSpec`.
    """
    from kgan_nas import features as features_lib
    from kgan_nas.executors import WorkerSpec

    cache = cache_root()
    data_path = os.path.join(cache, "data", f"{data.fingerprint()}.npz")
    if not os.path.exists(data_path):
        os.makedirs(os.path.dirname(data_path), exist_ok=True)
        data.save(data_path)
    real_grid = run_dir.file("samples", REAL_GRID)
    if not os.path.exists(real_grid):
        from kgan_nas.data import save_image_grid

        save_image_grid(data.eval[:REAL_GRID_IMAGES], real_grid)
    real_features_path = run_dir.file("real_features.npy")
    extractor_path = None
    if extractor_name == "domain":
        extractor_path = run_dir.file("extractor.keras")
        if not os.path.exists(extractor_path) or not os.path.exists(real_features_path):
            # The cache decides (`for_data`); this line must not claim a training it skips.
            say("Domain feature extractor: from the cache, or trained once for this data set...")
            extractor = features_lib.DomainExtractor.for_data(
                data.train,
                data.train_labels,
                cache_dir=os.path.join(cache, "extractors"),
                fingerprint=data.fingerprint(),
            )
            extractor.save(extractor_path)
            _save_real_features(run_dir, extractor, data, evaluation.num_samples)
            say(f"Domain extractor held-out accuracy: {extractor.accuracy:.3f}")
    elif not os.path.exists(real_features_path):
        _save_real_features(
            run_dir, features_lib.get_extractor(extractor_name), data, evaluation.num_samples
        )
    return WorkerSpec(
        data_path=data_path,
        extractor=extractor_name,
        extractor_path=extractor_path,
        real_features_path=real_features_path,
        space=space.to_dict(),
        config=evaluation.to_dict(),
        models_dir=run_dir.file("candidates"),
        backend=backend or current_backend(),
        log_dir=run_dir.file("logs"),
        # By value where needed: a callback class defined in the user's script
        # (`__main__`) reaches workers that never import that script.
        keras_callbacks=cloudpickle.dumps(keras_callbacks) if keras_callbacks else b"",
    )


def _save_real_features(run_dir, extractor, data, num_samples):
    """Real features plus reference scores: real-vs-real and noise-vs-real FID.

    The references are scored like a candidate: `num_samples` images (the
    candidates' generated count; training images stand in for generated
    ones, at most all of them) against the features of every eval image.
    FID's bias depends on the sample count, so a reference at another count
    would not be a floor (or ceiling) for the candidates' scores.
    """
    from kgan_nas import metrics

    real = extractor.features(data.eval)
    atomic_write(
        run_dir.file("real_features.npy"), lambda stream: np.save(stream, real, allow_pickle=False)
    )
    rng = np.random.default_rng(0)
    noise = rng.uniform(-1, 1, size=(num_samples,) + data.image_shape).astype("float32")
    train = data.train[np.sort(rng.permutation(len(data.train))[:num_samples])]
    baselines = {
        "extractor": extractor.metric_suffix,
        # `fid(real, fake)`, the eval images as `real` like a candidate's score (FID is
        # symmetric; the order names the sets right in its sample-count warning).
        "fid_train_vs_eval": float(metrics.fid(real, extractor.features(train))),
        "fid_uniform_noise": float(metrics.fid(real, extractor.features(noise))),
        "num_eval_images": int(len(data.eval)),
        "num_samples": int(len(train)),
        "num_noise_samples": int(num_samples),
    }
    atomic_write_json(run_dir.file("baselines.json"), baselines)


def current_backend():
    """The Keras backend this process uses (without importing Keras for it)."""
    return os.environ.get("KERAS_BACKEND") or (
        sys.modules["keras"].backend.backend() if "keras" in sys.modules else "tensorflow"
    )
