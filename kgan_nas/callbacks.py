"""Callbacks: Keras callbacks for GAN `fit` pipelines, and search-level hooks.

Keras callbacks, for the `fit` of any GAN model that has a `generator`
(`kgan_nas.GAN`, or a keras.io-style `keras.Model` subclass):

- `GANMetrics` writes FID / KID / IS into `logs` at epoch end (`fid_domain`,
  ...), so `EarlyStopping`, `ModelCheckpoint`, `TensorBoard` and `CSVLogger`
  use them unchanged.
- `SampleGrid` saves PNG grids from a fixed latent batch.
- `EvolveArchitecture` searches architectures inside `fit`: it mutates the
  model's genome, trains and scores the children, and swaps in a better one
  (`inherit_weights` carries the trained weights over).

Search-level hooks are `SearchCallback`s passed to
`kgan_nas.search(..., callbacks=[...])`: `ProgressPrinter` (what `verbose`
shows) and `SearchTensorBoard` are built on them. Keras callbacks passed
there go into every candidate's `fit`, pickled to the worker processes and
deep-copied per candidate, as KerasTuner does.
"""

import json
import math
import os
import time
import warnings

import keras
import numpy as np

_SCORE_FIELDS = {"fid": "fid", "kid": "kid", "is": "inception_score"}
# Domain extractors loaded in this process, by data fingerprint and cache folder:
# callbacks on the same data (GANMetrics next to EvolveArchitecture, or one per
# fit) share one Keras model instead of loading the cached file again.
_DOMAIN_EXTRACTORS = {}


# ----------------------------------------------------------------------------
# Shared helpers


def _check_positive_int(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}.")
    return int(value)


def _is_due(epoch, every_n_epochs, total_epochs):
    """Whether to act at the end of 0-based `epoch`.

    True for the first epoch, every `every_n_epochs`-th one (1-based, as
    Keras counts for `validation_freq`) and the last epoch of `fit`.
    """
    number = epoch + 1
    return (number == 1 or number % every_n_epochs == 0
            or (total_epochs is not None and number == total_epochs))


def _find_generator(model, generator, owner):
    """The generator to sample: the one given, else `model.generator`."""
    if generator is not None:
        return generator
    found = getattr(model, "generator", None)
    if found is None:
        raise ValueError(
            f"{owner} could not find the generator: the model "
            f"{getattr(model, 'name', '?')!r} ({type(model).__name__}) has no "
            f"`generator` attribute. Pass it explicitly: "
            f"{owner}(..., generator=my_generator).")
    if not isinstance(found, keras.layers.Layer):
        raise ValueError(
            f"{owner}: model.generator is a {type(found).__name__}, not a Keras "
            f"model. Pass the generator explicitly: {owner}(..., generator=...).")
    return found


def _generate(generator, n, latent_dim, seed, owner):
    from kgan_nas import training

    try:
        return training.generate_images(generator, n, latent_dim=latent_dim, seed=seed)
    except ValueError as error:
        if latent_dim is None and "latent_dim" in str(error):
            raise ValueError(
                f"{owner} cannot tell the generator's latent size: {error} "
                f"Pass {owner}(..., latent_dim=...).") from error
        raise


def _load_real_data(real_data, labels, owner):
    from kgan_nas import data as data_lib

    if isinstance(real_data, data_lib.ImageData):
        if labels is not None:
            raise ValueError(f"{owner}: pass labels with the images, not with an ImageData.")
        return real_data
    try:
        return data_lib.load_dataset(real_data, labels=labels)
    except (TypeError, ValueError) as error:
        kind = TypeError if isinstance(error, TypeError) else ValueError
        raise kind(f"{owner} could not use real_data: {error}") from error


class _SampleScorer:
    """Scores a generator's samples against real images.

    The scoring that `GANMetrics` logs and `EvolveArchitecture` ranks with:
    `num_samples` images from a fixed latent seed go through
    `kgan_nas.evaluate.score_images` (the search's own scoring) against the
    held-out split of the real data. The domain extractor is the search's
    (same data, same cache entry).
    """

    def __init__(self, real_data, *, labels, extractor, num_samples, seed, owner):
        from kgan_nas import features
        from kgan_nas.evaluate import EvaluationConfig

        if not (isinstance(extractor, features.FeatureExtractor)
                or (isinstance(extractor, str) and extractor in ("domain", "inception"))):
            raise ValueError(
                f"{owner}: extractor must be 'domain', 'inception' or a "
                f"kgan_nas.features.FeatureExtractor, got {extractor!r}.")
        num_samples = _check_positive_int(num_samples, "num_samples", owner)
        if num_samples < 10:
            raise ValueError(
                f"{owner}: num_samples must be at least 10 (IS uses 5 splits and FID "
                f"needs a covariance), got {num_samples}.")
        self.owner = owner
        self.data = _load_real_data(real_data, labels, owner)
        self.extractor_spec = extractor
        self.num_samples = num_samples
        self.seed = int(seed)
        self.config = EvaluationConfig(num_samples=num_samples,
                                       kid_subset_size=min(500, num_samples), seed=self.seed)
        self._prepared = None

    @property
    def suffix(self):
        """The metric-name suffix of the extractor, e.g. `"domain"`."""
        spec = self.extractor_spec
        return spec if isinstance(spec, str) else spec.metric_suffix

    def __getstate__(self):
        # Copies (KerasTuner-style deep copies, pickles to search workers)
        # carry the data, not the Keras extractor; they prepare it again,
        # from the cache.
        state = dict(self.__dict__)
        state["_prepared"] = None
        return state

    def prepare(self):
        """Fits or loads the extractor and computes the real statistics, once."""
        if self._prepared is not None:
            return self._prepared
        from kgan_nas import features
        from kgan_nas import metrics

        spec = self.extractor_spec
        if spec == "domain":
            key = (self.data.fingerprint(), features.default_cache_dir())
            if key not in _DOMAIN_EXTRACTORS:
                # The search's call: the same data gives the same cached extractor.
                _DOMAIN_EXTRACTORS[key] = features.DomainExtractor.for_data(
                    self.data.train, self.data.train_labels,
                    fingerprint=self.data.fingerprint())
            extractor = _DOMAIN_EXTRACTORS[key]
        else:
            extractor = features.get_extractor(spec)
        real_features = extractor.features(self.data.eval)
        statistics = metrics.FeatureStatistics()
        statistics.update(real_features)
        self._prepared = (extractor, real_features, statistics)
        return self._prepared

    def score(self, generator, latent_dim=None):
        """Returns the dict of `kgan_nas.evaluate.score_images` for `generator`."""
        from kgan_nas.evaluate import score_images

        extractor, real_features, statistics = self.prepare()
        images = _generate(generator, self.num_samples, latent_dim, self.seed, self.owner)
        if images.shape[1:] != self.data.image_shape:
            raise ValueError(
                f"{self.owner}: the generator makes images of shape {images.shape[1:]}, "
                f"but real_data holds images of shape {self.data.image_shape}.")
        finite = images[np.isfinite(images)]
        if finite.size and (finite.min() < -1.01 or finite.max() > 1.01):
            raise ValueError(
                f"{self.owner} scores images in [-1, 1] (a tanh output, like the real "
                f"data after kgan_nas.data.load_dataset), but the generator made values "
                f"in [{finite.min():.3g}, {finite.max():.3g}]. End the generator with "
                "activation='tanh', or rescale its output to [-1, 1].")
        return score_images(images, extractor, real_features, self.config, seed=self.seed,
                            real_statistics=statistics)


# ----------------------------------------------------------------------------
# Keras callbacks for fit


class GANMetrics(keras.callbacks.Callback):
    """Computes FID, KID and IS at epoch end and writes them into `logs`.

    The keys are named after the feature extractor, like everywhere in
    kgan_nas: `fid_domain`, `kid_domain`, `is_domain` (or `*_inception`). The
    callbacks after this one in the list see them like any Keras metric, so
    `EarlyStopping`, `ModelCheckpoint`, `TensorBoard`, `CSVLogger` and the
    progress bar use them unchanged. Keras can only infer the direction of
    its own metrics: pass `mode="min"` for FID and KID, `mode="max"` for IS.

    The real statistics are computed once, at the start of `fit` (the domain
    extractor is trained on the first use of a data set and cached, shared
    with `kgan_nas.search`). Each measurement generates `num_samples` images
    from the same latents (a fixed `seed`), so the scores of two epochs differ
    only because the generator did.

    Epochs it skips: metrics are computed after the first epoch, every
    `every_n_epochs`-th epoch and the last epoch of `fit`. On the other
    epochs the keys are absent from `logs` (never a stale or NaN value), as
    Keras does for `val_*` keys with `validation_freq`: `EarlyStopping` and
    `ModelCheckpoint` skip those epochs (with a warning that the metric is
    not available), so `patience` counts measured epochs; `TensorBoard` plots
    only measured epochs; `CSVLogger`, which fixes its columns on the first
    epoch, writes `NA`.

    Example:

    ```python
    callbacks = [
        kgan_nas.callbacks.GANMetrics("digits", every_n_epochs=1),  # first
        keras.callbacks.EarlyStopping(monitor="fid_domain", mode="min", patience=3),
        keras.callbacks.ModelCheckpoint("best.keras", monitor="fid_domain",
                                        mode="min", save_best_only=True),
        keras.callbacks.TensorBoard("logs"),
    ]
    gan.fit(dataset, epochs=50, steps_per_epoch=200, callbacks=callbacks)
    ```

    Args:
        real_data: Real images: anything `kgan_nas.data.load_dataset` takes
            (a numpy array, a `tf.data.Dataset`, a `.npz` file, an image
            folder, `"digits"`, ...) or an `ImageData`. Its held-out split
            (20%) gives the real statistics; its training split trains the
            domain extractor.
        every_n_epochs: Measure every this many epochs (plus the first and
            last). Defaults to 1.
        metrics: Which of `"fid"`, `"kid"`, `"is"` to log. Defaults to all.
        extractor: `"domain"` (offline; scores not comparable with published
            FID), `"inception"` (Keras InceptionV3; needs its weights) or a
            `kgan_nas.features.FeatureExtractor`. Defaults to `"domain"`.
        num_samples: Generated images per measurement. FID is biased by the
            sample count: compare only scores computed with the same one.
            Defaults to 1000.
        labels: Optional labels of an array `real_data`, for the domain
            extractor.
        generator: The generator to sample. Defaults to None: the model's
            `generator` attribute, looked up at each measurement (so it
            follows `EvolveArchitecture`).
        latent_dim: Latent size. Defaults to None: from the generator's
            input shape.
        seed: Seed of the latents and of KID's subsets. Defaults to 0.

    Attributes:
        keys: The `logs` keys this callback writes, e.g. `("fid_domain",)`.
        last_scores: The values written at the last measurement.

    Raises:
        ValueError: for an unknown metric or extractor, a bad count, or data
            `load_dataset` rejects (at construction); in `fit`, when the model
            has no generator, or the generator's images do not match the real
            images or leave [-1, 1].
    """

    def __init__(self, real_data, every_n_epochs=1, metrics=("fid", "kid", "is"),
                 extractor="domain", num_samples=1000, *, labels=None, generator=None,
                 latent_dim=None, seed=0):
        super().__init__()
        self.every_n_epochs = _check_positive_int(every_n_epochs, "every_n_epochs",
                                                  "GANMetrics")
        if isinstance(metrics, str):
            metrics = (metrics,)
        metrics = tuple(metrics)
        unknown = [name for name in metrics if name not in _SCORE_FIELDS]
        if not metrics or unknown or len(set(metrics)) != len(metrics):
            raise ValueError(
                f"GANMetrics: metrics must be distinct names from {tuple(_SCORE_FIELDS)}, "
                f"got {metrics!r}.")
        self.metric_names = metrics
        self.generator = generator
        self.latent_dim = latent_dim
        self._scorer = _SampleScorer(real_data, labels=labels, extractor=extractor,
                                     num_samples=num_samples, seed=seed, owner="GANMetrics")
        self.keys = tuple(f"{name}_{self._scorer.suffix}" for name in metrics)
        self.last_scores = {}

    def on_train_begin(self, logs=None):
        # Fail before the first epoch, not after it, when there is nothing to sample.
        _find_generator(self.model, self.generator, "GANMetrics")
        self._scorer.prepare()

    def on_epoch_end(self, epoch, logs=None):
        if not _is_due(epoch, self.every_n_epochs, (self.params or {}).get("epochs")):
            return
        generator = _find_generator(self.model, self.generator, "GANMetrics")
        scores = self._scorer.score(generator, self.latent_dim)
        values = {key: scores[_SCORE_FIELDS[name]]
                  for key, name in zip(self.keys, self.metric_names)}
        if not math.isfinite(scores["fid"]):
            warnings.warn(
                f"GANMetrics: the generator's samples hold NaN or inf after epoch "
                f"{epoch + 1}; logging the worst values ({values}).", stacklevel=2)
        self.last_scores = values
        if logs is not None:
            logs.update(values)


class SampleGrid(keras.callbacks.Callback):
    """Saves a PNG grid of generated images at epoch end.

    The latents are the same batch every time (drawn from `seed`), so the
    grids show how the generator's output for fixed inputs changes across
    epochs. Files are `<directory>/epoch_001.png`, ... (1-based epochs),
    written atomically with `kgan_nas.data.save_image_grid`.

    Example:

    ```python
    gan.fit(dataset, epochs=20, callbacks=[kgan_nas.callbacks.SampleGrid("samples")])
    ```

    Args:
        directory: Folder for the PNG files (created).
        every_n_epochs: Save every this many epochs, plus the first and the
            last. Defaults to 1.
        n: Images per grid. Defaults to 64.
        seed: Seed of the fixed latent batch. Defaults to 0.
        generator: The generator. Defaults to None: the model's `generator`
            attribute.
        latent_dim: Latent size. Defaults to None: from the generator's
            input shape.

    Attributes:
        paths: The files written so far, in order.

    Raises:
        ValueError: for a bad count (at construction), or in `fit` when the
            model has no generator.
    """

    def __init__(self, directory, every_n_epochs=1, n=64, seed=0, *, generator=None,
                 latent_dim=None):
        super().__init__()
        self.directory = os.fspath(directory)
        self.every_n_epochs = _check_positive_int(every_n_epochs, "every_n_epochs",
                                                  "SampleGrid")
        self.n = _check_positive_int(n, "n", "SampleGrid")
        self.seed = int(seed)
        self.generator = generator
        self.latent_dim = latent_dim
        self.paths = []

    def on_train_begin(self, logs=None):
        _find_generator(self.model, self.generator, "SampleGrid")

    def on_epoch_end(self, epoch, logs=None):
        from kgan_nas import data as data_lib

        if not _is_due(epoch, self.every_n_epochs, (self.params or {}).get("epochs")):
            return
        generator = _find_generator(self.model, self.generator, "SampleGrid")
        images = _generate(generator, self.n, self.latent_dim, self.seed, "SampleGrid")
        path = os.path.join(self.directory, f"epoch_{epoch + 1:03d}.png")
        data_lib.save_image_grid(images, path)
        self.paths.append(path)


def inherit_weights(source, target):
    """Copies weights from `source` into `target` wherever layers match.

    The layers that own weights are paired in order, as the longest common
    subsequence of their signatures (layer class and the shapes of all its
    weights), and each pair gets `source`'s weights. So when a mutation
    inserts, removes or reshapes a layer, the layers before and after it
    keep their trained weights; only the changed ones keep their fresh
    initialisation.

    Example:

    ```python
    child_generator, child_discriminator = kgan_nas.decode.build_models(child, space)
    inherit_weights(gan.generator, child_generator)
    ```

    Args:
        source: A Keras model with trained weights (e.g. a parent generator).
        target: A Keras model to receive them (e.g. a child's generator).

    Returns:
        The copied `(source layer name, target layer name)` pairs, in order.
    """
    source_layers = [layer for layer in source.layers if layer.weights]
    target_layers = [layer for layer in target.layers if layer.weights]
    pairs = _common_subsequence([_layer_signature(layer) for layer in source_layers],
                                [_layer_signature(layer) for layer in target_layers])
    for i, j in pairs:
        target_layers[j].set_weights(source_layers[i].get_weights())
    return [(source_layers[i].name, target_layers[j].name) for i, j in pairs]


def _layer_signature(layer):
    return type(layer).__name__, tuple(tuple(weight.shape) for weight in layer.weights)


def _common_subsequence(first, second):
    """Index pairs `(i, j)` of a longest common subsequence of two sequences.

    Pairs increase in both indices and `first[i] == second[j]` for each.
    Among equally long answers it prefers the earliest elements of `first`.
    """
    rows, cols = len(first), len(second)
    # lengths[i][j]: LCS length of first[i:] and second[j:].
    lengths = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(cols - 1, -1, -1):
            if first[i] == second[j]:
                lengths[i][j] = lengths[i + 1][j + 1] + 1
            else:
                lengths[i][j] = max(lengths[i + 1][j], lengths[i][j + 1])
    pairs, i, j = [], 0, 0
    while i < rows and j < cols:
        if first[i] == second[j] and lengths[i][j] == lengths[i + 1][j + 1] + 1:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif lengths[i][j + 1] >= lengths[i + 1][j]:
            j += 1
        else:
            i += 1
    return pairs


class EvolveArchitecture(keras.callbacks.Callback):
    """Searches architectures inside `fit`, swapping in better children.

    At the end of every `every_n_epochs`-th epoch (N, 2N, ...) it:

    1. scores the model with `scorer` (lower is better);
    2. mutates the current genome into `children` distinct genomes
       (`kgan_nas.operators.mutate`, which repairs them with
       `SearchSpace.repair`);
    3. builds each child (`kgan_nas.decode.build_models`), copies in the
       model's weights wherever layers match (`inherit_weights`), and trains
       it for `steps_per_child` steps on batches of `data`, with the
       optimizer, learning rates and loss of its own genome;
    4. scores the children and, when the best beats the model by more than
       `min_delta`, swaps its networks and optimizers into the model
       (`kgan_nas.GAN.replace_networks`); `fit` trains them from the next
       epoch on. A child whose training fails (NaN, divergence, an error)
       scores inf.

    Children get `steps_per_child` steps the model does not, which favours
    them slightly; keep it small next to an evolution period.

    Every epoch it writes numbers (strings would break the progress bar and
    `TensorBoard`) into `logs`: `arch_generation` (how many times the
    architecture was replaced), `arch_key` (the first 24 bits of the current
    `genome.key()` as an integer, exact in TensorBoard's float32;
    `f"{int(value):06x}"` gives the key's first six hex digits) and
    `arch_params` (generator parameters). Full records are in `history`.

    Put it first in the callback list, so that `GANMetrics`,
    `ModelCheckpoint` and the others see the model as it goes on training.
    Do not combine it with `EarlyStopping(restore_best_weights=True)` or a
    weights-only checkpoint that is loaded back: the weights of another
    architecture do not fit.

    Example:

    ```python
    space = kgan_nas.SearchSpace(image_shape=(8, 8, 1))
    genome = space.sample(np.random.default_rng(0))
    gan = kgan_nas.GAN(*kgan_nas.decode.build_models(genome, space))
    gan.compile(...)
    evolve = kgan_nas.callbacks.EvolveArchitecture(
        space, genome, "digits", every_n_epochs=5, children=4, steps_per_child=200)
    gan.fit(dataset, epochs=30, steps_per_epoch=300, callbacks=[evolve])
    print(evolve.genome.describe())
    ```

    Args:
        space: The `SearchSpace` of the genomes.
        genome: The `Genome` the model was built from.
        data: The images the model trains on: anything
            `kgan_nas.data.load_dataset` takes, or an `ImageData`. Children
            train on its training split; the default scorer compares with its
            held-out split.
        every_n_epochs: Evolve after every this many epochs. Defaults to 5.
        children: Children per evolution step. Defaults to 4.
        steps_per_child: Training steps of each child. Defaults to 200.
        batch_size: Batch size of the children's training. Defaults to 64
            (capped at the number of training images).
        mutation_rate: Per-gene mutation probability. Defaults to 0.2.
        scorer: `callable(gan) -> float`, lower is better. Defaults to None:
            domain FID (`fid_<extractor>`) of `num_samples` images, computed
            like `GANMetrics` does.
        num_samples: Images per score for the default scorer. Defaults to
            1000.
        extractor: Feature extractor of the default scorer. Defaults to
            `"domain"`.
        min_delta: A child replaces the model only if its score is lower by
            more than this. Defaults to 0.
        inherit: Copy matching weights into the children. Defaults to True.
        labels: Optional labels of an array `data`.
        seed: Seed of the mutations and the children's training. Defaults to 0.
        verbose: 1 prints a line per evolution step, 0 nothing. Defaults to 1.

    Attributes:
        genome: The genome of the model's current architecture.
        generation: How many times the architecture was replaced.
        history: One dict per evolution step: `epoch`, `parent_key`,
            `parent_score`, `children` (dicts with `key`, `score`, `status`,
            `reason`, `describe`), `replaced`, `key`.

    Raises:
        ValueError: for bad arguments or a genome invalid in `space` (at
            construction); in `fit`, when the model does not match the genome
            or the space.
        TypeError: in `fit`, when the model is not a compiled `kgan_nas.GAN`.
    """

    def __init__(self, space, genome, data, every_n_epochs=5, children=4,
                 steps_per_child=200, *, batch_size=64, mutation_rate=0.2, scorer=None,
                 num_samples=1000, extractor="domain", min_delta=0.0, inherit=True,
                 labels=None, seed=0, verbose=1):
        super().__init__()
        from kgan_nas.genome import Genome

        owner = "EvolveArchitecture"
        if not isinstance(genome, Genome):
            raise ValueError(
                f"{owner}: genome must be the kgan_nas.Genome the model was built from, "
                f"got {type(genome).__name__}.")
        space.validate(genome)
        self.every_n_epochs = _check_positive_int(every_n_epochs, "every_n_epochs", owner)
        self.children = _check_positive_int(children, "children", owner)
        self.steps_per_child = _check_positive_int(steps_per_child, "steps_per_child", owner)
        self.batch_size = _check_positive_int(batch_size, "batch_size", owner)
        if not 0 < mutation_rate <= 1:
            raise ValueError(f"{owner}: mutation_rate must be in (0, 1], got {mutation_rate!r}.")
        if scorer is not None and not callable(scorer):
            raise ValueError(f"{owner}: scorer must be callable(gan) -> float, got {scorer!r}.")
        if verbose not in (0, 1):
            raise ValueError(f"{owner}: verbose must be 0 or 1, got {verbose!r}.")
        self.space = space
        self.genome = genome
        self.mutation_rate = float(mutation_rate)
        self.min_delta = float(min_delta)
        self.inherit = bool(inherit)
        self.seed = int(seed)
        self.verbose = verbose
        self.scorer = scorer
        self._default_scorer = None
        if scorer is None:
            self._default_scorer = _SampleScorer(
                data, labels=labels, extractor=extractor, num_samples=num_samples,
                seed=seed, owner=owner)
            self._data = self._default_scorer.data
        else:
            self._data = _load_real_data(data, labels, owner)
        if tuple(self._data.image_shape) != tuple(space.image_shape):
            raise ValueError(
                f"{owner}: data holds images of shape {self._data.image_shape}, but the "
                f"space is for {tuple(space.image_shape)}.")
        self.generation = 0
        self.history = []

    def on_train_begin(self, logs=None):
        from kgan_nas import training

        model = self.model
        if not isinstance(model, training.GAN) or model.loss_name is None:
            raise TypeError(
                "EvolveArchitecture evolves a compiled kgan_nas.GAN built from its genome "
                "(kgan_nas.decode.build_models(genome, space)), because it rebuilds the "
                f"networks from mutated genomes; got {type(model).__name__}.")
        if model.latent_dim != self.space.latent_dim or tuple(model.image_shape) != tuple(
                self.space.image_shape):
            raise ValueError(
                f"EvolveArchitecture: the model takes latents of size {model.latent_dim} "
                f"and makes images of shape {model.image_shape}, but the space has "
                f"latent_dim={self.space.latent_dim} and image_shape="
                f"{tuple(self.space.image_shape)}.")
        expected = self.space.generator_params(self.genome)
        if model.generator.count_params() != expected:
            raise ValueError(
                f"EvolveArchitecture: the model's generator has "
                f"{model.generator.count_params()} parameters, but the genome's has "
                f"{expected}; pass the genome the model was built from.")
        if self._default_scorer is not None:
            self._default_scorer.prepare()

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs == 0:
            self._evolve(epoch)
        if logs is not None:
            logs.update(self._logs())

    def _logs(self):
        return {
            "arch_generation": self.generation,
            "arch_key": int(self.genome.key()[:6], 16),
            "arch_params": int(self.model.generator.count_params()),
        }

    def _score(self, gan):
        if self.scorer is not None:
            value = float(self.scorer(gan))
        else:
            value = self._default_scorer.score(gan.generator, gan.latent_dim)["fid"]
        return value if math.isfinite(value) else math.inf

    def _evolve(self, epoch):
        from kgan_nas import operators

        model = self.model
        parent_score = self._score(model)
        rng = np.random.default_rng([self.seed, epoch])
        seen = {self.genome.key()}
        records, best = [], None
        for _ in range(self.children):
            genome = operators.mutate(self.genome, self.space, rng, rate=self.mutation_rate)
            if genome.key() in seen:  # a space too small for another distinct child
                continue
            seen.add(genome.key())
            gan, record = self._train_child(genome, int(rng.integers(2**31 - 1)))
            records.append(record)
            if gan is not None and (best is None or record["score"] < best[1]["score"]):
                best = (gan, record, genome)
        replaced = best is not None and best[1]["score"] < parent_score - self.min_delta
        parent_key = self.genome.key()
        if replaced:
            gan, _, genome = best
            model.replace_networks(gan.generator, gan.discriminator,
                                   g_optimizer=gan.g_optimizer, d_optimizer=gan.d_optimizer,
                                   loss=gan.loss_name)
            self.genome = genome
            self.generation += 1
        self.history.append({
            "epoch": epoch, "parent_key": parent_key, "parent_score": parent_score,
            "children": records, "replaced": replaced, "key": self.genome.key()})
        if self.verbose:
            best_text = (f"best child {best[1]['key']} scored {best[1]['score']:.4g}"
                         if best else "no child trained")
            outcome = f"replaced by {self.genome.key()}" if replaced else "kept"
            print(f"EvolveArchitecture, epoch {epoch + 1}: {parent_key} scored "
                  f"{parent_score:.4g}, {best_text}: {outcome}.", flush=True)

    def _train_child(self, genome, seed):
        """Builds, trains and scores one child; returns `(gan or None, record)`."""
        from kgan_nas import data as data_lib
        from kgan_nas import decode
        from kgan_nas import training

        record = {"key": genome.key(), "describe": genome.describe(), "score": math.inf,
                  "status": "ok", "reason": ""}
        model = self.model
        generator, discriminator = decode.build_models(genome, self.space)
        if self.inherit:
            inherit_weights(model.generator, generator)
            inherit_weights(model.discriminator, discriminator)
        genes = genome.training
        gan = training.GAN(generator, discriminator, d_steps=model.d_steps,
                           gp_weight=model.gp_weight, seed=seed)
        gan.compile(
            g_optimizer=training.make_optimizer(genes.optimizer, genes.g_learning_rate,
                                                beta_1=genes.beta_1, beta_2=genes.beta_2),
            d_optimizer=training.make_optimizer(genes.optimizer, genes.d_learning_rate,
                                                beta_1=genes.beta_1, beta_2=genes.beta_2),
            loss=genes.loss, jit_compile=model.jit_compile)
        batch_size = min(self.batch_size, len(self._data.train))
        inputs = data_lib.train_input(self._data.train, batch_size, seed=seed)
        report = training.train_for_budget(gan, inputs, steps=self.steps_per_child)
        if report.status != "ok":
            record.update(status=report.status, reason=report.reason)
            return None, record
        record["score"] = self._score(gan)
        return gan, record


# ----------------------------------------------------------------------------
# Search-level hooks


class SearchCallback:
    """Base class for hooks into `kgan_nas.search`.

    Override any of the methods; each gets JSON-able values only, so a hook
    never holds on to Keras models. The methods run in the driver process,
    for every candidate, failed ones included.

    Example:

    ```python
    class PrintFailures(kgan_nas.callbacks.SearchCallback):
        def on_candidate_end(self, record):
            if record["status"] != "ok":
                print(record["key"], record["reason"])

    kgan_nas.search("digits", callbacks=[PrintFailures()])
    ```
    """

    def on_search_begin(self, logs=None):
        """Called once before the first candidate.

        Args:
            logs: The search configuration (as in `config.json`) plus
                `directory` and `resumed`.
        """

    def on_generation_begin(self, generation, logs=None):
        """Called when a generation's genomes are known.

        Args:
            generation: 0-based generation number.
            logs: `{"genomes": [keys], "evaluated": how many of them a
                resumed run had already scored, "best_so_far": best
                objective value so far (inf if none)}`.
        """

    def on_candidate_end(self, record):
        """Called with each candidate's history record as soon as it is scored.

        Args:
            record: The `history.jsonl` line: `generation`, `key`, `genome`,
                `status`, `reason`, `objective` (None if failed), `fitness`
                and the metrics (`fid_domain`, ...).
        """

    def on_generation_end(self, generation, logs=None):
        """Called after a generation.

        Args:
            generation: 0-based generation number.
            logs: A flat dict: `generation`, `best`, `median`, `best_so_far`,
                `failed`, `evaluated`.
        """

    def on_search_end(self, result):
        """Called with the `SearchResult` when the search finishes."""


def split_callbacks(callbacks):
    """Separates `SearchCallback`s from Keras callbacks.

    Args:
        callbacks: A list of `SearchCallback` and Keras callback objects, or
            None.

    Returns:
        `(search_callbacks, keras_callbacks)`, two lists.

    Raises:
        TypeError: for an object that is neither.
    """
    search_callbacks, keras_callbacks = [], []
    for callback in callbacks or []:
        if isinstance(callback, SearchCallback):
            search_callbacks.append(callback)
        elif hasattr(callback, "on_train_batch_end") and hasattr(callback, "set_model"):
            keras_callbacks.append(callback)
        else:
            raise TypeError(
                f"callbacks must be kgan_nas.callbacks.SearchCallback or "
                f"keras.callbacks.Callback objects, got {type(callback).__name__}.")
    return search_callbacks, keras_callbacks


def _format_seconds(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s"


class ProgressPrinter(SearchCallback):
    """Prints a search's progress; `kgan_nas.search(verbose=1 or 2)` adds one.

    With `verbose=1`, a progress bar per generation (`keras.utils.Progbar`,
    with the number of failed candidates and the best objective so far);
    with `verbose=2`, one line per candidate instead (better in log files).
    Both print where the run is, a summary line after each generation and
    the total at the end.

    Args:
        verbose: 1 or 2. Defaults to 1.

    Raises:
        ValueError: for another `verbose`.
    """

    def __init__(self, verbose=1):
        if verbose not in (1, 2):
            raise ValueError(f"ProgressPrinter: verbose must be 1 or 2, got {verbose!r}.")
        self.verbose = verbose
        self._started = time.monotonic()
        self._objective = "objective"
        self._bar = None
        self._total = self._count = self._failed = 0
        self._best = math.inf

    def on_search_begin(self, logs=None):
        logs = logs or {}
        self._started = time.monotonic()
        self._objective = (logs.get("objectives") or [self._objective])[0]
        if logs.get("directory"):
            verb = "Resuming" if logs.get("resumed") else "Starting"
            print(f"{verb} search in {logs['directory']}", flush=True)

    def on_generation_begin(self, generation, logs=None):
        logs = logs or {}
        self._total = len(logs.get("genomes", ()))
        self._count = int(logs.get("evaluated", 0))
        self._failed = 0
        self._best = logs.get("best_so_far", math.inf)
        self._bar = None
        if self.verbose == 1:
            self._bar = keras.utils.Progbar(self._total, unit_name="candidate",
                                            stateful_metrics=["best", "failed"])
            if self._count:
                self._bar.update(self._count)

    def on_candidate_end(self, record):
        from kgan_nas.genome import Genome

        self._count += 1
        objective = record.get("objective")
        if record["status"] != "ok" or objective is None:
            self._failed += 1
        elif objective < self._best:
            self._best = objective
        if self._bar is not None:
            values = [("failed", self._failed)]
            if math.isfinite(self._best):
                values.append(("best", self._best))
            self._bar.update(self._count, values=values)
        elif self.verbose == 2:
            score = (f"{self._objective}={objective:.4g}" if objective is not None
                     else f"{record['status']}: {record['reason'][:80]}")
            print(f"  [{self._count}/{self._total}] {record['key']}  {score}  "
                  f"{Genome.from_dict(record['genome']).describe()}", flush=True)

    def on_generation_end(self, generation, logs=None):
        logs = logs or {}
        print(f"Generation {generation + 1}: best {self._objective} {logs['best']:.4g} "
              f"(so far {logs['best_so_far']:.4g}), median {logs['median']:.4g}, "
              f"failed {logs['failed']}/{self._total}, "
              f"elapsed {_format_seconds(time.monotonic() - self._started)}", flush=True)

    def on_search_end(self, result):
        print(f"Done: {len(result.history)} candidates in {result.directory}", flush=True)


class SearchTensorBoard(SearchCallback):
    """Writes each candidate's genes and fitness to TensorBoard event files.

    Each candidate gets a run `<log_dir>/candidates/gen001-<key>` holding its
    genes as TensorBoard HParams (training genes, layer counts, the one-line
    architecture, the status) with its metrics as scalars (`fid_domain`,
    `kid_domain`, `is_domain`, `params`; absent for a failed candidate), so
    the HParams dashboard plots genes against fitness. The root run holds
    per-generation scalars (`generation/best`, `generation/median`,
    `generation/best_so_far`, `generation/failed`) and the configuration as
    text.

    Example:

    ```python
    kgan_nas.search("digits", callbacks=[kgan_nas.callbacks.SearchTensorBoard("tb")])
    # then: tensorboard --logdir tb
    ```

    Args:
        log_dir: Folder for the event files.

    Raises:
        ImportError: if TensorFlow or TensorBoard is not installed (they
            write the files; a search under JAX does not need them otherwise).
    """

    def __init__(self, log_dir):
        try:
            import tensorboard  # noqa: F401  (tf.summary needs it)
            import tensorflow  # noqa: F401
        except ImportError as error:
            raise ImportError(
                "SearchTensorBoard writes event files with tf.summary, which needs "
                "TensorFlow and TensorBoard: pip install tensorflow tensorboard "
                f"({error}).") from error
        self.log_dir = os.fspath(log_dir)
        self._metric_names = ()
        self._root = None

    def _write(self, run, write):
        """Writes one candidate's run: its own writer, closed at once."""
        import tensorflow as tf

        writer = tf.summary.create_file_writer(os.path.join(self.log_dir, run))
        with writer.as_default():
            write(tf)
        writer.close()

    def _write_root(self, write):
        import tensorflow as tf

        if self._root is None:
            self._root = tf.summary.create_file_writer(self.log_dir)
        with self._root.as_default():
            write(tf)
        self._root.flush()

    def on_search_begin(self, logs=None):
        from tensorboard.plugins.hparams import api as hparams

        logs = dict(logs or {})
        suffix = str(logs.get("metric", "fid_domain")).split("_", 1)[-1]
        self._metric_names = (f"fid_{suffix}", f"kid_{suffix}", f"is_{suffix}", "params")

        def write(tf):
            hparams.hparams_config(
                hparams=[hparams.HParam(name) for name in _HPARAM_NAMES],
                metrics=[hparams.Metric(name) for name in self._metric_names])
            tf.summary.text("config", json.dumps(logs, indent=2, sort_keys=True, default=str),
                            step=0)

        self._write_root(write)

    def on_candidate_end(self, record):
        from tensorboard.plugins.hparams import api as hparams

        from kgan_nas.genome import Genome

        genome = Genome.from_dict(record["genome"])
        genes = _hparam_values(genome, record)
        generation = int(record["generation"])

        def write(tf):
            hparams.hparams(genes, trial_id=record["key"])
            for name in self._metric_names:
                value = record.get(name)
                if value is not None and math.isfinite(value):
                    tf.summary.scalar(name, value, step=generation)
            tf.summary.text("genome", genome.to_json(), step=generation)

        self._write(os.path.join("candidates", f"gen{generation + 1:03d}-{record['key']}"),
                    write)

    def on_generation_end(self, generation, logs=None):
        logs = logs or {}

        def write(tf):
            for name in ("best", "median", "best_so_far", "failed"):
                value = logs.get(name)
                if value is not None and math.isfinite(value):
                    tf.summary.scalar(f"generation/{name}", value, step=generation)

        self._write_root(write)

    def on_search_end(self, result):
        if self._root is not None:
            self._root.close()
            self._root = None


_HPARAM_NAMES = ("generation", "status", "architecture", "g_layers", "d_layers", "optimizer",
                 "loss", "g_learning_rate", "d_learning_rate", "beta_1", "beta_2")


def _hparam_values(genome, record):
    """A candidate's genes as flat HParams values."""
    genes = genome.training
    values = {
        "generation": int(record["generation"]),
        "status": record["status"],
        "architecture": genome.describe(),
        "g_layers": len(genome.generator),
        "d_layers": len(genome.discriminator),
        "optimizer": genes.optimizer,
        "loss": genes.loss,
        "g_learning_rate": float(genes.g_learning_rate),
        "d_learning_rate": float(genes.d_learning_rate),
        "beta_1": float(genes.beta_1),
        "beta_2": float(genes.beta_2),
    }
    return values
