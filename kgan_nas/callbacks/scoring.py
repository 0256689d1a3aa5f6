"""What the fit callbacks share: argument checks, finding the generator, real data,
and `SampleScorer` (FID / KID / IS of a generator's samples).

`GANMetrics` and `EvolveArchitecture` both score through `SampleScorer`, so a
generator gets the same numbers whichever callback measures it.
"""

import keras
import numpy as np

from kgan_nas import validate

# Domain extractors loaded in this process, by data fingerprint and cache folder:
# callbacks on the same data (GANMetrics next to EvolveArchitecture, or one per
# fit) share one Keras model instead of loading the cached file again.
_DOMAIN_EXTRACTORS = {}


def is_due(epoch, every_n_epochs, total_epochs):
    """Whether to act at the end of 0-based `epoch`.

    True for the first epoch, every `every_n_epochs`-th one (1-based, as
    Keras counts for `validation_freq`) and the last epoch of `fit`.
    """
    number = epoch + 1
    return (
        number == 1
        or number % every_n_epochs == 0
        or (total_epochs is not None and number == total_epochs)
    )


def find_generator(model, generator, owner):
    """The generator to sample: the one given, else `model.generator`."""
    if generator is not None:
        return generator
    found = getattr(model, "generator", None)
    if found is None:
        raise ValueError(
            f"{owner} could not find the generator: the model "
            f"{getattr(model, 'name', '?')!r} ({type(model).__name__}) has no "
            f"`generator` attribute. Pass it explicitly: "
            f"{owner}(..., generator=my_generator)."
        )
    if not isinstance(found, keras.layers.Layer):
        raise ValueError(
            f"{owner}: model.generator is a {type(found).__name__}, not a Keras "
            f"model. Pass the generator explicitly: {owner}(..., generator=...)."
        )
    return found


def generate(generator, n, latent_dim, seed, owner, labels=None):
    """`n` images of `generator`; a conditional one makes the classes in turn, or `labels`."""
    from kgan_nas import training
    from kgan_nas.training import conditional

    if conditional.is_conditional(generator):
        latent_dim, _, num_classes = conditional.check_generator(generator, latent_dim)
        labels = np.arange(n) % num_classes if labels is None else labels
        labels = conditional.check_labels(labels, num_classes, n)
        return conditional.generate_conditional(generator, labels, latent_dim=latent_dim, seed=seed)
    try:
        return training.generate_images(generator, n, latent_dim=latent_dim, seed=seed)
    except ValueError as error:
        if latent_dim is None and "latent_dim" in str(error):
            raise ValueError(
                f"{owner} cannot tell the generator's latent size: {error} "
                f"Pass {owner}(..., latent_dim=...)."
            ) from error
        raise


def generator_classes(generator):
    """The number of classes of a conditional generator, or None for an unconditional one."""
    from kgan_nas.training import conditional

    if not conditional.is_conditional(generator):
        return None
    return conditional.check_generator(generator)[2]


def load_real_data(real_data, labels, owner):
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


class SampleScorer:
    """Scores a generator's samples against real images.

    The scoring that `GANMetrics` logs and `EvolveArchitecture` ranks with:
    `num_samples` images from a fixed latent seed go through
    `kgan_nas.evaluation.evaluator.score_images` (the search's own scoring) against the
    held-out split of the real data. The domain extractor is the search's
    (same data, same cache entry).
    """

    def __init__(self, real_data, *, labels, extractor, num_samples, seed, owner):
        from kgan_nas import features
        from kgan_nas.evaluation.evaluator import EvaluationConfig

        if not (
            isinstance(extractor, features.FeatureExtractor)
            or (isinstance(extractor, str) and extractor in ("domain", "inception"))
        ):
            raise ValueError(
                f"{owner}: extractor must be 'domain', 'inception' or a "
                f"kgan_nas.features.FeatureExtractor, got {extractor!r}."
            )
        num_samples = validate.check_positive_int(num_samples, f"{owner}: num_samples")
        if num_samples < 10:
            raise ValueError(
                f"{owner}: num_samples must be at least 10 (IS uses 5 splits and FID "
                f"needs a covariance), got {num_samples}."
            )
        self.owner = owner
        self.data = load_real_data(real_data, labels, owner)
        self.extractor_spec = extractor
        self.num_samples = num_samples
        self.seed = int(seed)
        self.config = EvaluationConfig(
            num_samples=num_samples, kid_subset_size=min(500, num_samples), seed=self.seed
        )
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
                    self.data.train, self.data.train_labels, fingerprint=self.data.fingerprint()
                )
            extractor = _DOMAIN_EXTRACTORS[key]
        else:
            extractor = features.get_extractor(spec)
        real_features = extractor.features(self.data.eval)
        statistics = metrics.FeatureStatistics()
        statistics.update(real_features)
        self._prepared = (extractor, real_features, statistics)
        return self._prepared

    def score(self, generator, latent_dim=None):
        """Returns the dict of `kgan_nas.evaluation.evaluator.score_images` for `generator`."""
        from kgan_nas.evaluation.evaluator import score_images

        extractor, real_features, statistics = self.prepare()
        labels = self._labels_for(generator)
        images = generate(generator, self.num_samples, latent_dim, self.seed, self.owner, labels)
        if images.shape[1:] != self.data.image_shape:
            raise ValueError(
                f"{self.owner}: the generator makes images of shape {images.shape[1:]}, "
                f"but real_data holds images of shape {self.data.image_shape}."
            )
        finite = images[np.isfinite(images)]
        if finite.size and (finite.min() < -1.01 or finite.max() > 1.01):
            raise ValueError(
                f"{self.owner} scores images in [-1, 1] (a tanh output, like the real "
                f"data after kgan_nas.data.load_dataset), but the generator made values "
                f"in [{finite.min():.3g}, {finite.max():.3g}]. End the generator with "
                "activation='tanh', or rescale its output to [-1, 1]."
            )
        if (
            not getattr(self, "_warned_range", False)  # once: no scan of the real images after
            and finite.size
            and finite.min() >= 0
            and self.data.eval.min() < 0  # real images that do use the negative half
        ):
            # Values in [0, 1] pass the check above but are scored against real images in
            # [-1, 1]: a sigmoid generator's FID would measure the shift, not the images.
            from kgan_nas.errors import warn

            self._warned_range = True
            warn(
                f"{self.owner}: every value the generator made is in [0, "
                f"{finite.max():.3g}], while the real images reach "
                f"{float(self.data.eval.min()):.3g} (a sigmoid output?). "
                "The scores then measure the shift of range, not the images: end the "
                "generator with activation='tanh', or rescale its output to [-1, 1] "
                "(x * 2 - 1)."
            )
        scores = score_images(
            images,
            extractor,
            real_features,
            self.config,
            seed=self.seed,
            real_statistics=statistics,
        )
        if labels is not None:
            from kgan_nas.evaluation.class_scores import class_scores

            real_labels = self.data.eval_labels
            scores.update(class_scores(images, labels, extractor, real_features, real_labels))
        return scores

    def _labels_for(self, generator):
        """For a conditional generator: classes drawn from the real data's frequencies."""
        if generator_classes(generator) is None:
            return None
        if self.data.train_labels is None:
            raise ValueError(
                f"{self.owner}: the generator is class-conditional, so real_data needs "
                "labels (pass labels=..., or labelled data such as 'digits')."
            )
        from kgan_nas.evaluation.class_scores import generation_labels

        return generation_labels(self.data.train_labels, self.num_samples, self.seed)
