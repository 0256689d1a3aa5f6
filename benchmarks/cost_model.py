"""Benchmark: the pure-Python MAC count (`kgan_nas.core.cost`) against XLA's own count.

It samples genomes from 28x28x1 and 8x8x1 search spaces (plain, with
`SearchSpace.with_recipe()` for residual blocks and minibatch_std, and
class-conditional), until every generator and discriminator layer kind and
every conditioning has appeared in at least `--per-kind` genomes. For each
it builds the Keras models with `kgan_nas.evaluation.decode.build_models`
under `KERAS_BACKEND=jax` and compares `generator_macs` /
`discriminator_macs` with two compiler counts of an inference forward pass
(`training=False`: batch norm on its moving statistics, no dropout) of a
batch of `--batch` images, divided by the batch:

* `total`: `flops / 2` of `jax.jit(forward).lower(...).compile().cost_analysis()`,
  the whole pass, elementwise work (biases, activations, norms) included;
* `mac_ops`: `flops / 2` of XLA's cost analysis of each `dot_general` and
  `conv_general_dilated` of the pass's jaxpr, lowered one by one: the
  compiler's count of exactly the operations the cost model counts.

With `--train-steps N` it also lowers the real JAX train step
(`kgan_nas.training.jax_step`, built by `decode.build_gan`) of N sampled
genomes chosen to cover R1, the gradient penalty, two discriminator steps,
spectral normalisation and conditioning, and compares `train_step_macs`
(with `batch_size=--batch`) the same two ways (`total` from the lowered
module: compiling a train step takes tens of seconds on a CPU).

    KERAS_BACKEND=jax python benchmarks/cost_model.py
    KERAS_BACKEND=jax python benchmarks/cost_model.py --per-kind 5 --train-steps 2

The error of a genome is `(compiler - model) / compiler`; `per_kind` gives,
for each layer kind, the worst and median error of the network (generator
or discriminator) over the genomes whose network holds that kind. The elementwise
work the cost model leaves out (it counts 0 MACs by convention) is also
attributed to layers: every operation of the pass is lowered on its own
and its FLOPs are charged to the Keras layer it was traced in (its name
stack, e.g. `d2_layernorm` -> discriminator step 2), which gives a per-step
error beside the per-genome one (`per_kind_steps`).

The models are built inside `keras.StatelessScope(initialize_variables=False)`
and traced with `jax.ShapeDtypeStruct` weights: the initial weight values do
not change a FLOP count, and drawing them (one XLA compilation per weight
shape) took most of the time. Writes `benchmarks/results/cost_model.json`.
"""

import argparse
import os
import sys
import time

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The kinds each network must show in `--per-kind` genomes, and the
# conditionings (a conditional network's label embedding or projection).
REQUIRED = (
    [f"generator/{kind}" for kind in ("dense", "conv2d", "conv2d_transpose")]
    + [f"generator/{kind}" for kind in ("upsample_conv2d", "dropout", "residual_up")]
    + [f"discriminator/{kind}" for kind in ("dense", "conv2d", "dropout")]
    + [f"discriminator/{kind}" for kind in ("residual_down", "minibatch_std")]
    + ["generator/condition_concat", "generator/condition_multiply"]
    + ["discriminator/condition_concat", "discriminator/condition_projection"]
)
MAC_PRIMITIVES = ("dot_general", "conv_general_dilated")


def spaces():
    """The sampled spaces, by name: 28x28x1 and 8x8x1, plain, recipe and conditional."""
    from kgan_nas.core.space import SearchSpace

    named = {}
    for shape in ((28, 28, 1), (8, 8, 1)):
        name = "x".join(map(str, shape))
        plain = SearchSpace(image_shape=shape)
        named[name] = plain
        named[f"{name}+recipe"] = plain.with_recipe()
        named[f"{name}+recipe+conditional"] = SearchSpace(
            image_shape=shape, num_classes=10
        ).with_recipe()
    return named


def kinds_of(genome):
    """The layer kinds (and stride, norm and conditioning variants) of a genome, per network."""
    found = {"generator": set(), "discriminator": set()}
    for network in found:
        for gene in getattr(genome, network):
            found[network].add(gene.kind)
            if gene.kind in ("conv2d", "conv2d_transpose"):
                found[network].add(f"{gene.kind}/stride{gene.stride}")
            if gene.norm != "none":
                found[network].add(f"norm_{gene.norm}")
    if genome.conditioning is not None:
        found["generator"].add(f"condition_{genome.conditioning.generator}")
        found["discriminator"].add(f"condition_{genome.conditioning.discriminator}")
    return found


def _inputs(space, network, batch):
    import jax.numpy as jnp

    first = (
        jnp.ones((batch, space.latent_dim))
        if network == "generator"
        else jnp.ones((batch,) + space.image_shape)
    )
    if not space.conditional:
        return first
    return [first, jnp.arange(batch, dtype="int32").reshape(batch, 1) % space.num_classes]


def _sub_jaxprs(eqn):
    """The jaxprs an equation calls (a `jit`'s, a `custom_jvp_call`'s primal, ...)."""
    from jax.extend import core as jax_core

    found = []
    for value in eqn.params.values():
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(item, jax_core.ClosedJaxpr):
                found.append(item.jaxpr)
            elif isinstance(item, jax_core.Jaxpr):
                found.append(item)
    return found


class MacOpCounter:
    """XLA's FLOPs of the operations of a jaxpr, each lowered on its own (cached)."""

    def __init__(self):
        self.cache = {}

    def op_flops(self, eqn):
        """XLA's cost analysis FLOPs of one equation lowered alone (0 where it has none)."""
        import jax

        key = (
            eqn.primitive.name,
            tuple((tuple(v.aval.shape), str(v.aval.dtype)) for v in eqn.invars),
            repr(sorted(eqn.params.items())),
        )
        if key not in self.cache:
            args = [jax.ShapeDtypeStruct(v.aval.shape, v.aval.dtype) for v in eqn.invars]

            def one_op(*values):
                return eqn.primitive.bind(*values, **eqn.params)

            flops = jax.jit(one_op).lower(*args).cost_analysis().get("flops", 0.0)
            # XLA reports -1 for an operation it has no cost for (e.g. random_wrap).
            self.cache[key] = max(float(flops), 0.0)
        return self.cache[key]

    def by_layer(self, jaxpr, outer="", into=None):
        """FLOPs of every operation of `jaxpr`, by the Keras layer it was traced in.

        The layer is the first part of an equation's name stack (Keras
        names a scope after each layer it calls); equations inside a called
        jaxpr are charged to the caller's layer when they carry none.
        """
        import collections

        into = collections.Counter() if into is None else into
        for eqn in jaxpr.eqns:
            name = str(eqn.source_info.name_stack).split("/")[0] or outer
            subs = _sub_jaxprs(eqn)
            if eqn.primitive.name == "cond":
                branches = [self.by_layer(b.jaxpr, name) for b in eqn.params["branches"]]
                into.update(max(branches, key=lambda counts: sum(counts.values())))
            elif subs:
                self.by_layer(subs[0], name, into)
            else:
                into[name] += self.op_flops(eqn)
        return into

    def flops(self, jaxpr):
        """FLOPs of every dot / convolution in `jaxpr` and its sub-jaxprs.

        A `cond` counts its costliest branch (spectral normalisation's power
        iteration sits in one; the other passes the kernel through).
        """
        total = 0
        for eqn in jaxpr.eqns:
            if eqn.primitive.name in MAC_PRIMITIVES:
                total += self.op_flops(eqn)
            elif eqn.primitive.name == "cond":
                total += max(self.flops(branch.jaxpr) for branch in eqn.params["branches"])
            else:
                total += sum(self.flops(sub) for sub in _sub_jaxprs(eqn))
        return total


def compiler_counts(fn, args, counter, compile_it=True, by_layer=False):
    """XLA's cost analysis of `fn(*args)`.

    Returns:
        `(total_flops, mac_op_flops)`, plus the FLOPs by Keras layer name
        with `by_layer=True`.
    """
    import jax

    lowered = jax.jit(fn).lower(*args)
    analysis = lowered.compile().cost_analysis() if compile_it else lowered.cost_analysis()
    if isinstance(analysis, list):  # older JAX: one dict per computation
        analysis = analysis[0]
    jaxpr = jax.make_jaxpr(fn)(*args).jaxpr
    counts = (analysis.get("flops", 0.0), counter.flops(jaxpr))
    return counts + (counter.by_layer(jaxpr),) if by_layer else counts


def deferred(build):
    """`build()` with Keras' weight initialisation deferred (never run: see the docstring)."""
    import keras

    with keras.StatelessScope(initialize_variables=False):
        return build()


def abstract(variables):
    """Shape-and-dtype stand-ins for Keras variables, to trace with."""
    import jax

    return [jax.ShapeDtypeStruct(tuple(v.shape), v.dtype) for v in variables]


def forward_counts(model, inputs, counter):
    """Compiler counts of one inference forward pass of a Keras model (JAX backend)."""
    import keras

    def forward(trainable, state, inputs):
        # An enclosing scope keeps `stateless_call` from initialising the
        # deferred variables at its exit.
        with keras.StatelessScope(initialize_variables=False):
            return model.stateless_call(trainable, state, inputs, training=False)[0]

    args = (abstract(model.trainable_variables), abstract(model.non_trainable_variables), inputs)
    return compiler_counts(forward, args, counter, by_layer=True)


# Layers the decoder names without a step index, and the plan role they belong to.
_NAMED_LAYERS = {
    "project": "project",
    "project_relu": "project",
    "project_reshape": "project",
    "image": "output",
    "logit": "output",
}


def step_index(layer, plan):
    """The plan step a decoded layer belongs to (`g3_conv1` -> 3), or None."""
    import re

    match = re.match(r"^[gd](\d+)_", layer)
    if match:
        return int(match.group(1))
    role = _NAMED_LAYERS.get(layer)
    if role is None and layer.startswith(
        ("label", "latent_", "projection", "logit_and", "image_and")
    ):
        role = "condition"
    return next((i for i, step in enumerate(plan) if step.role == role), None)


def step_kind(step):
    """A step's kind for the tables: a gene's kind, `project`, `output` or `condition_<how>`."""
    if step.role == "gene":
        return step.gene.kind
    if step.role == "condition":
        if step.output_shape == (1,):
            return "condition_projection"
        # A discriminator's "concat" adds an image channel; a generator's acts on the latent.
        return (
            "condition_concat"
            if len(step.output_shape) == 3
            else f"condition_{step.gene.generator}"
        )
    return step.role


def step_rows(plan, flops_by_layer, batch):
    """Per step of a plan: its kind, MACs and the compiler's FLOPs / 2 charged to it."""
    from kgan_nas.core import cost

    compiler = [0.0] * len(plan)
    unattributed = 0.0
    for layer, flops in flops_by_layer.items():
        index = step_index(layer, plan)
        if index is None:
            unattributed += flops
        else:
            compiler[index] += flops
    rows = []
    for step, macs, flops in zip(plan, cost.plan_macs(plan), compiler):
        gene = step.gene if step.role == "gene" else None
        rows.append(
            {
                "kind": step_kind(step),
                "norm": gene.norm if gene is not None else "none",
                "macs": macs,
                "compiler": flops / 2 / batch,
            }
        )
    return rows, unattributed / 2 / batch


def relative_error(compiler, model):
    """`(compiler - model) / compiler`: the share of the compiler's count the model misses."""
    return (compiler - model) / compiler


def measure_forward(genome, space, batch, counter):
    """One genome's model and compiler counts, per image, for both networks."""
    from kgan_nas.core import cost
    from kgan_nas.evaluation.decode import build_models

    models = dict(
        zip(("generator", "discriminator"), deferred(lambda: build_models(genome, space)))
    )
    macs = {
        "generator": cost.generator_macs(genome, space),
        "discriminator": cost.discriminator_macs(genome, space),
    }
    plans = {
        "generator": space.generator_plan(genome),
        "discriminator": space.discriminator_plan(genome),
    }
    row = {}
    for network, model in models.items():
        total, mac_ops, layers = forward_counts(model, _inputs(space, network, batch), counter)
        steps, unattributed = step_rows(plans[network], layers, batch)
        row[network] = {
            "steps": steps,
            "unattributed": unattributed,
            "macs": macs[network],
            "compiler_total": total / 2 / batch,
            "compiler_mac_ops": mac_ops / 2 / batch,
            "error_total": relative_error(total / 2 / batch, macs[network]),
            "error_mac_ops": relative_error(mac_ops / 2 / batch, macs[network]),
        }
    return row


def measure_train_step(genome, space, batch, counter):
    """Model and compiler counts, per image, of one lowered JAX train step."""
    import jax.numpy as jnp
    import keras

    from kgan_nas.core import cost
    from kgan_nas.evaluation.decode import build_gan
    from kgan_nas.evaluation.decode import build_models

    # The networks' weights are deferred; the optimizers' and metrics' (zeros,
    # cheap to make) cannot be, as Keras creates some of them at construction.
    networks = deferred(lambda: build_models(genome, space))
    gan = build_gan(genome, space, seed=0, networks=networks)
    state = (
        abstract(gan.trainable_variables),
        abstract(gan.non_trainable_variables),
        abstract(gan.optimizer.variables),
        abstract(gan.metrics_variables),
    )
    images = jnp.zeros((batch,) + space.image_shape)
    data = images if not space.conditional else (images, jnp.arange(batch) % space.num_classes)

    def step(state, data):
        with keras.StatelessScope(initialize_variables=False):
            return gan.train_step(state, data)

    total, mac_ops = compiler_counts(step, (state, data), counter, compile_it=False)
    parts = cost.train_step_cost(genome, space, batch_size=batch)
    macs = parts.total
    return {
        "macs": macs,
        "parts": {
            "generator": parts.generator,
            "discriminator": parts.discriminator,
            "penalty": parts.penalty,
            "augment": parts.augment,
            "spectral": parts.spectral,
        },
        "compiler_total": total / 2 / batch,
        "compiler_mac_ops": mac_ops / 2 / batch,
        "error_total": relative_error(total / 2 / batch, macs),
        "error_mac_ops": relative_error(mac_ops / 2 / batch, macs),
    }


def train_step_features(genome):
    """What a genome's train step exercises (penalties, norms, kinds), to pick a varied few."""
    from kgan_nas.core import cost

    genes = genome.training
    features = set()
    if genes.r1_weight > 0:
        features.add("r1")
    if genes.loss == "wasserstein_gp":
        features.add("gradient_penalty")
    if genes.d_steps > 1:
        features.add("d_steps>1")
    if genome.conditioning is not None:
        features.add(f"conditional_{genome.conditioning.discriminator}")
    if genes.augment != "none":
        features.add("augment")
    for network in ("generator", "discriminator"):
        for gene in getattr(genome, network):
            if gene.norm != "none":
                features.add(f"{network}_{gene.norm}_norm")
            if gene.kind.startswith("residual") or gene.kind == "minibatch_std":
                features.add(gene.kind)
    smooth = any(
        gene.activation in cost.SMOOTH_ACTIVATIONS or gene.norm in cost.SMOOTH_NORMS
        for gene in genome.discriminator
        if gene.kind not in ("dropout", "minibatch_std")
    )
    features.add("smooth_discriminator" if smooth else "piecewise_linear_discriminator")
    if genes.loss == "wasserstein_gp":
        features.add("gradient_penalty_" + ("smooth" if smooth else "piecewise_linear"))
    return features


def pick_train_step_genomes(rows, count):
    """Greedily the sampled genomes that add the most uncovered train-step features."""
    picked, covered = [], set()
    candidates = list(rows)
    while candidates and len(picked) < count:
        best = max(candidates, key=lambda row: len(row["features"] - covered))
        candidates.remove(best)
        picked.append(best)
        covered |= best["features"]
    return picked


def summarise(rows):
    """Per kind: genomes, worst and median errors of the network the kind is in."""
    import statistics

    by_kind = {}
    for row in rows:
        for network, kinds in row["kinds"].items():
            for kind in kinds:
                by_kind.setdefault(f"{network}/{kind}", []).append(row[network])
    summary = {}
    for key in sorted(by_kind):
        counts = by_kind[key]
        totals = [count["error_total"] for count in counts]
        summary[key] = {
            "genomes": len(counts),
            "worst_error_total": max(totals, key=abs),
            "median_error_total": statistics.median(totals),
            "within_2pct_total": sum(abs(error) <= 0.02 for error in totals) / len(totals),
            "worst_error_mac_ops": max((count["error_mac_ops"] for count in counts), key=abs),
        }
    return summary


def summarise_steps(rows):
    """Per network and step kind: the steps' errors, charging each its own elementwise work.

    A step without MACs (dropout, minibatch_std, an embedding) has an error
    of 1 wherever the compiler counts FLOPs in it; `max_unmodelled_macs`
    says how many per image (compiler FLOPs / 2 minus the model's MACs).
    """
    import statistics

    by_kind = {}
    for row in rows:
        for network in ("generator", "discriminator"):
            for step in row[network]["steps"]:
                by_kind.setdefault(f"{network}/{step['kind']}", []).append(step)
    summary = {}
    for key in sorted(by_kind):
        steps = by_kind[key]
        counted = [step for step in steps if step["compiler"] > 0]
        errors = [relative_error(step["compiler"], step["macs"]) for step in counted]
        worst = max(zip(errors, counted), key=lambda pair: abs(pair[0]), default=(0.0, None))
        summary[key] = {
            "steps": len(steps),
            "worst_error": worst[0],
            "worst_step": worst[1],
            "median_error": statistics.median(errors) if errors else 0.0,
            "within_2pct": (
                sum(abs(error) <= 0.02 for error in errors) / len(errors) if errors else 1.0
            ),
            "max_unmodelled_macs": max(
                (step["compiler"] - step["macs"] for step in steps), default=0.0
            ),
        }
    return summary


def _median(values):
    import statistics

    return statistics.median(list(values))


def compact(row):
    """A genome row for the JSON: its counts without the per-step detail."""
    row = {key: value for key, value in row.items() if key != "features"}
    row["kinds"] = {network: " ".join(kinds) for network, kinds in row["kinds"].items()}
    for network in ("generator", "discriminator"):
        counts = {k: v for k, v in row[network].items() if k not in ("steps", "unattributed")}
        row[network] = {k: round(v, 7) if isinstance(v, float) else v for k, v in counts.items()}
    return row


def elementwise_constants(counter, batch):
    """XLA's FLOPs per output value of the elementwise layers the model counts as 0 MACs.

    Each is one Keras layer on a `(7, 7, 16)` map (inference mode), its
    FLOPs less those of its dots and convolutions, over its output values.
    They explain the `error_total` of a step: e.g. a 3x3 convolution over
    a 1-channel image makes 9 MACs (18 FLOPs) per output value, and its
    bias, layer normalisation and leaky relu add 1 + ~9 + 3.
    """
    import jax
    import keras

    from kgan_nas.training.layers import MinibatchStd

    layers = {
        "bias (Conv2D)": lambda: keras.layers.Conv2D(16, 3, padding="same"),
        "batch_norm": keras.layers.BatchNormalization,
        "layer_norm": lambda: keras.layers.LayerNormalization(axis=-1),
        "minibatch_std": MinibatchStd,
        "average_pool_2x2": lambda: keras.layers.AveragePooling2D(2, padding="same"),
        "dropout": lambda: keras.layers.Dropout(0.25),
        "upsample_2x": lambda: keras.layers.UpSampling2D(2),
    }
    for name in ("relu", "leaky_relu", "elu", "silu", "gelu", "tanh"):
        layers[name] = lambda name=name: keras.layers.Activation(name)
    shape = (7, 7, 16)
    constants = {}
    for name, make in layers.items():
        inputs = keras.Input(shape)
        model = deferred(lambda make=make: keras.Model(inputs, make()(inputs)))

        def forward(trainable, state, x, model=model):
            with keras.StatelessScope(initialize_variables=False):
                return model.stateless_call(trainable, state, x, training=False)[0]

        args = (
            abstract(model.trainable_variables),
            abstract(model.non_trainable_variables),
            jax.ShapeDtypeStruct((batch,) + shape, "float32"),
        )
        total, mac_ops = compiler_counts(forward, args, counter)
        values = batch
        for size in model.output_shape[1:]:
            values *= size
        constants[name] = round((total - mac_ops) / values, 4)
    return constants


def main(argv=None):
    import numpy as np
    from _common import write_result

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=20, help="genomes per required kind")
    parser.add_argument("--batch", type=int, default=8, help="images per compiled pass")
    parser.add_argument("--max-genomes", type=int, default=600)
    parser.add_argument("--train-steps", type=int, default=16, help="train steps to lower")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    named = spaces()
    counter = MacOpCounter()
    rows, seen, counts = [], set(), dict.fromkeys(REQUIRED, 0)
    while min(counts.values()) < args.per_kind and len(rows) < args.max_genomes:
        # Round robin over the spaces; a genome with no kind still short is not measured.
        short = {key for key, value in counts.items() if value < args.per_kind}
        for name, space in named.items():
            genome = space.sample(rng)
            found = kinds_of(genome)
            keys = {f"{network}/{kind}" for network, kinds in found.items() for kind in kinds}
            if genome.key() in seen or not keys & short:
                continue
            seen.add(genome.key())
            row = {
                "space": name,
                "genome": genome.to_json(),
                "describe": genome.describe(),
                "kinds": {network: sorted(kinds) for network, kinds in found.items()},
                **measure_forward(genome, space, args.batch, counter),
            }
            row["features"] = train_step_features(genome)
            rows.append(row)
            for key in keys & set(counts):
                counts[key] += 1
            print(
                f"{len(rows):4d} {name:28s} G {row['generator']['error_total']:+.4f} "
                f"D {row['discriminator']['error_total']:+.4f}  {genome.describe()[:90]}",
                flush=True,
            )
    forward_seconds = time.perf_counter() - started

    train_rows = []
    recipe_rows = [row for row in rows if "recipe" in row["space"]]
    for row in pick_train_step_genomes(recipe_rows, args.train_steps):
        from kgan_nas.core.genome import Genome

        genome = Genome.from_json(row["genome"])
        measured = measure_train_step(genome, named[row["space"]], args.batch, counter)
        train_rows.append(
            {
                "space": row["space"],
                "describe": row["describe"],
                "features": sorted(row["features"]),
                **measured,
            }
        )
        print(
            f"train step {row['space']:28s} mac ops {measured['error_mac_ops']:+.5f} "
            f"total {measured['error_total']:+.4f}  {row['describe'][:80]}",
            flush=True,
        )
    seconds = time.perf_counter() - started

    summary = summarise(rows)
    print(f"\n{'kind':42s}{'genomes':>8}{'worst total':>13}{'median':>9}{'worst mac ops':>15}")
    for key, entry in summary.items():
        print(
            f"{key:42s}{entry['genomes']:>8}{entry['worst_error_total']:>+13.4f}"
            f"{entry['median_error_total']:>+9.4f}{entry['worst_error_mac_ops']:>+15.6f}"
        )
    step_summary = summarise_steps(rows)
    print(
        f"\n{'step kind':42s}{'steps':>7}{'worst':>9}{'median':>9}{'<=2%':>7}{'max unmodelled':>16}"
    )
    for key, entry in step_summary.items():
        print(
            f"{key:42s}{entry['steps']:>7}{entry['worst_error']:>+9.4f}"
            f"{entry['median_error']:>+9.4f}{entry['within_2pct']:>7.0%}"
            f"{entry['max_unmodelled_macs']:>16.0f}"
        )
    constants = elementwise_constants(counter, args.batch)
    print("\nelementwise FLOPs per output value:", constants)
    errors = [
        row[network]["error_total"] for row in rows for network in ("generator", "discriminator")
    ]
    by_network = {
        network: {
            "within_2pct_total": sum(abs(row[network]["error_total"]) <= 0.02 for row in rows)
            / len(rows),
            "median_error_total": _median(row[network]["error_total"] for row in rows),
        }
        for network in ("generator", "discriminator")
    }
    unattributed = max(
        row[network]["unattributed"] for row in rows for network in ("generator", "discriminator")
    )
    report = {
        "benchmark": "cost_model",
        "args": vars(args),
        "error": "(compiler flops / 2 - model MACs) / (compiler flops / 2), per image",
        "genomes": len(rows),
        "kind_counts": counts,
        "networks_within_2pct_total": sum(abs(e) <= 0.02 for e in errors) / len(errors),
        "worst_error_total": max(errors, key=abs),
        "worst_error_mac_ops": max(
            (
                row[network]["error_mac_ops"]
                for row in rows
                for network in ("generator", "discriminator")
            ),
            key=abs,
        ),
        "by_network": by_network,
        "per_kind": summary,
        "per_kind_steps": step_summary,
        "max_unattributed_flops_per_image": unattributed,
        "elementwise_flops_per_value": constants,
        "train_steps": train_rows,
        "seconds": {"forward": round(forward_seconds, 1), "total": round(seconds, 1)},
        "genome_rows": [compact(row) for row in rows],
    }
    print(
        f"\n{len(rows)} genomes; {report['networks_within_2pct_total']:.1%} of networks within 2 % "
        f"(total); worst total {report['worst_error_total']:+.4f}, worst mac ops "
        f"{report['worst_error_mac_ops']:+.6f}; {seconds:.0f} s"
    )
    write_result("cost_model", report, args.output)


if __name__ == "__main__":
    sys.exit(main())
