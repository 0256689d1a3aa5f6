"""Architecture search inside a user's `fit`: `EvolveArchitecture`.

Children start from the current model's weights (`kgan_nas.evaluation.inherit`).
"""

import math

import keras
import numpy as np

from kgan_nas import validate
from kgan_nas.callbacks.scoring import SampleScorer
from kgan_nas.callbacks.scoring import load_real_data
from kgan_nas.evaluation.inherit import inherit_weights


class EvolveArchitecture(keras.callbacks.Callback):
    """Searches architectures inside `fit`, swapping in better children.

    At the end of every `every_n_epochs`-th epoch (N, 2N, ...) it:

    1. scores the model with `scorer` (lower is better);
    2. mutates the current genome into `children` distinct genomes
       (`kgan_nas.core.operators.mutate`, which repairs them with
       `SearchSpace.repair`);
    3. builds each child (`kgan_nas.evaluation.decode.build_models`), copies in the
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
    gan = kgan_nas.GAN(*kgan_nas.evaluation.decode.build_models(genome, space))
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

    def __init__(
        self,
        space,
        genome,
        data,
        every_n_epochs=5,
        children=4,
        steps_per_child=200,
        *,
        batch_size=64,
        mutation_rate=0.2,
        scorer=None,
        num_samples=1000,
        extractor="domain",
        min_delta=0.0,
        inherit=True,
        labels=None,
        seed=0,
        verbose=1,
    ):
        super().__init__()
        from kgan_nas.core.genome import Genome

        owner = "EvolveArchitecture"
        if not isinstance(genome, Genome):
            raise ValueError(
                f"{owner}: genome must be the kgan_nas.Genome the model was built from, "
                f"got {type(genome).__name__}."
            )
        space.validate(genome)
        self.every_n_epochs = validate.check_positive_int(
            every_n_epochs, f"{owner}: every_n_epochs"
        )
        self.children = validate.check_positive_int(children, f"{owner}: children")
        self.steps_per_child = validate.check_positive_int(
            steps_per_child, f"{owner}: steps_per_child"
        )
        self.batch_size = validate.check_positive_int(batch_size, f"{owner}: batch_size")
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
            self._default_scorer = SampleScorer(
                data,
                labels=labels,
                extractor=extractor,
                num_samples=num_samples,
                seed=seed,
                owner=owner,
            )
            self._data = self._default_scorer.data
        else:
            self._data = load_real_data(data, labels, owner)
        if tuple(self._data.image_shape) != tuple(space.image_shape):
            raise ValueError(
                f"{owner}: data holds images of shape {self._data.image_shape}, but the "
                f"space is for {tuple(space.image_shape)}."
            )
        self.generation = 0
        self.history = []

    def on_train_begin(self, logs=None):
        from kgan_nas import training

        model = self.model
        if not isinstance(model, training.GAN) or model.loss_name is None:
            raise TypeError(
                "EvolveArchitecture evolves a compiled kgan_nas.GAN built from its genome "
                "(kgan_nas.evaluation.decode.build_models(genome, space)), because it rebuilds the "
                f"networks from mutated genomes; got {type(model).__name__}."
            )
        if model.latent_dim != self.space.latent_dim or tuple(model.image_shape) != tuple(
            self.space.image_shape
        ):
            raise ValueError(
                f"EvolveArchitecture: the model takes latents of size {model.latent_dim} "
                f"and makes images of shape {model.image_shape}, but the space has "
                f"latent_dim={self.space.latent_dim} and image_shape="
                f"{tuple(self.space.image_shape)}."
            )
        if model.num_classes != self.space.num_classes:
            raise ValueError(
                f"EvolveArchitecture: the model has num_classes={model.num_classes} but the "
                f"space has num_classes={self.space.num_classes}; a conditional GAN evolves "
                "in a conditional space (SearchSpace(num_classes=...)) and vice versa."
            )
        expected = self.space.generator_params(self.genome)
        if model.generator.count_params() != expected:
            raise ValueError(
                f"EvolveArchitecture: the model's generator has "
                f"{model.generator.count_params()} parameters, but the genome's has "
                f"{expected}; pass the genome the model was built from."
            )
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
        from kgan_nas.core import operators

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
            model.replace_networks(
                gan.generator,
                gan.discriminator,
                g_optimizer=gan.g_optimizer,
                d_optimizer=gan.d_optimizer,
                loss=gan.loss_name,
            )
            self.genome = genome
            self.generation += 1
        self.history.append(
            {
                "epoch": epoch,
                "parent_key": parent_key,
                "parent_score": parent_score,
                "children": records,
                "replaced": replaced,
                "key": self.genome.key(),
            }
        )
        if self.verbose:
            best_text = (
                f"best child {best[1]['key']} scored {best[1]['score']:.4g}"
                if best
                else "no child trained"
            )
            outcome = f"replaced by {self.genome.key()}" if replaced else "kept"
            print(
                f"EvolveArchitecture, epoch {epoch + 1}: {parent_key} scored "
                f"{parent_score:.4g}, {best_text}: {outcome}.",
                flush=True,
            )

    def _train_child(self, genome, seed):
        """Builds, trains and scores one child; returns `(gan or None, record)`."""
        from kgan_nas import data as data_lib
        from kgan_nas import training
        from kgan_nas.evaluation import decode

        record = {
            "key": genome.key(),
            "describe": genome.describe(),
            "score": math.inf,
            "status": "ok",
            "reason": "",
        }
        model = self.model
        generator, discriminator = decode.build_models(genome, self.space)
        if self.inherit:
            inherit_weights(model.generator, generator)
            inherit_weights(model.discriminator, discriminator)
        gan = decode.build_gan(
            genome,
            self.space,
            seed=seed,
            jit_compile=model.jit_compile,
            networks=(generator, discriminator),
            d_steps=model.d_steps,
            gp_weight=model.gp_weight,
        )
        batch_size = min(self.batch_size, len(self._data.train))
        labels = self._data.train_labels if self.space.conditional else None
        inputs = data_lib.train_input(self._data.train, batch_size, seed=seed, labels=labels)
        report = training.train_for_budget(gan, inputs, steps=self.steps_per_child)
        if report.status != "ok":
            record.update(status=report.status, reason=report.reason)
            return None, record
        record["score"] = self._score(gan)
        return gan, record
