"""The `kgan-nas` argument parser: commands, their options and help texts.

`kgan_nas.cli.commands` runs the commands; this module only describes them, from
`config.PRESETS` and the metric and objective names, so the help always
states the numbers the code uses.
"""

import argparse
import textwrap

from kgan_nas import __version__
from kgan_nas import config as config_lib
from kgan_nas.cli import console
from kgan_nas.cli import finalize as cli_final
from kgan_nas.core import zoo as zoo_lib
from kgan_nas.core.objectives import METRICS
from kgan_nas.core.objectives import OBJECTIVES


def _integer_at_least(minimum, words):
    """The argparse type of an integer >= `minimum`, its errors saying `words`."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {words}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {words}, got {value}")
        return value

    return parse


_positive_int = _integer_at_least(1, "a positive integer")


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {value}")
    return value


def _target(text):
    """`fid_domain=20` -> `("fid_domain", 20.0)` (`--stop-at`)."""
    name, sep, value = text.partition("=")
    try:
        if not (name and sep):
            raise ValueError(text)  # a name alone (or a value alone) is no target
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE such as fid_domain=20, got {text!r}"
        ) from None


def _thread_count(text):
    """`auto` or a positive integer (`SubprocessExecutor`'s `threads_per_worker`)."""
    return text if text == "auto" else _positive_int(text)


_VERBOSE_HELP = "the same as --library-logs (its old name)"
_VERBOSE_SEARCH_HELP = "a line per candidate instead of the progress bar"
# What each preset is for; its numbers are read from config.PRESETS.
# The CPU times are the budget line's estimate (config.preset_minutes), from each
# preset's measured cost, so the help and the search say the same.
_PRESET_PURPOSES = {
    "quick": f"digits in about {round(config_lib.preset_minutes('quick'))} minutes on 2 CPU cores",
    "mnist_cpu": "28x28 images such as mnist_5k in about "
    f"{round(config_lib.preset_minutes('mnist_cpu'))} minutes on 2 CPU cores, final stage "
    "included",
    "default": "a first real search",
    "paper": "one GPU, a few hours",
}
KEYS_HINT = "the `key` column of `kgan-nas report {directory}`"


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help layout, without breaking lines inside `--steps-per-candidate`."""

    def _split_lines(self, text, width):
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def _option(key):
    """`steps_per_candidate` -> `--steps-per-candidate`."""
    return "--" + key.replace("_", "-")


def _presets_help():
    """`--preset`'s help: each preset as the options it stands for."""
    described = []
    for name, budget in config_lib.PRESETS.items():
        options = " ".join(f"{_option(key)} {value}" for key, value in budget.items())
        purpose = _PRESET_PURPOSES.get(name)
        described.append(f"{name} ({purpose}): {options}" if purpose else f"{name}: {options}")
    return (
        "budgets for the options left unset; "
        + "; ".join(described)
        + ". Budgets are steps, not seconds (default: default)"
    )


def _from_presets(text, key):
    """`text` followed by the value of `key` under each preset."""
    values = ", ".join(f"{name} {budget[key]}" for name, budget in config_lib.PRESETS.items())
    return f"{text} (preset: {values})"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and a pointer to `--help`.

    argparse prints the whole usage (20 lines for `search`) before the one line
    that says what is wrong; a user reads the last line first, so it is the
    only one, with the command that lists the options. The commands' parsers
    are of this class too (`add_subparsers` makes them of the parser's class).
    """

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (`{self.prog} --help` lists the options)\n")


def build_parser():
    """Builds the argument parser of the `kgan-nas` command line.

    `--debug` and `--verbose` are accepted before the command (`kgan-nas
    --debug search ...`) and after it (`kgan-nas search --debug ...`).

    Returns:
        An `argparse.ArgumentParser`.
    """
    parser = _Parser(
        prog="kgan-nas",
        formatter_class=_HelpFormatter,
        description="Architecture search for GANs: genetic, random, particle-swarm or "
        "gradient-based (supernet) search "
        "(Keras 3, XLA). "
        "Run `kgan-nas COMMAND --help` for a command's options.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"kgan-nas {__version__}",
        help="print the version of kgan_nas and exit",
    )
    console.add_console_flags(
        parser,
        "with search and resume, a line per candidate instead of the progress bar",
        command_level=False,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_search_command(commands)
    _add_resume_command(commands)
    _add_report_command(commands)
    _add_sample_command(commands)
    cli_final.add_finalize_command(
        commands,
        _HelpFormatter,
        _positive_int,
        _integer_at_least(0, "an integer >= 0"),
        _fraction,
        lambda p: console.add_console_flags(p, _VERBOSE_HELP),
    )
    return parser


def _add_search_command(commands):
    search = commands.add_parser(
        "search",
        formatter_class=_HelpFormatter,
        help="run (or resume) a search",
        description="Search GAN architectures on a data set and write a run directory. "
        "Running the same command again resumes the run.",
    )
    data = search.add_argument_group("data")
    data.add_argument(
        "--dataset",
        default="digits",
        help="digits (offline), mnist_5k (offline, 5,000 real 28x28 MNIST digits; "
        'pip install "kgan_nas[data]"), mnist, fashion_mnist, cifar10, FILE.npz/.npy or '
        "FOLDER of images (default: digits)",
    )
    data.add_argument(
        "--conditional",
        action="store_true",
        help="search class-conditional GANs (needs labelled data; see kgan_nas.search)",
    )
    data.add_argument(
        "--value-range",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="the range the images' values come in, rescaled to [-1, 1], e.g. 0 1 or 0 255 "
        "(default: uint8 as 0 255, floats in [-1, 1] as they are)",
    )
    data.add_argument(
        "--eval-fraction",
        type=_fraction,
        metavar="F",
        help="share of the images that score the candidates (default: 0.2)",
    )
    _add_strategy_options(search.add_argument_group("search strategy"))
    _add_budget_options(search.add_argument_group("budget"))
    _add_fidelity_options(search.add_argument_group("multi-fidelity"))
    _add_scoring_options(search.add_argument_group("scoring"))
    _add_execution_options(search.add_argument_group("execution"))
    output = search.add_argument_group("output")
    output.add_argument(
        "--directory",
        default="runs/kgan_nas",
        help="run directory; an existing run there is resumed (default: runs/kgan_nas)",
    )
    output.add_argument(
        "--overwrite", action="store_true", help="delete an existing run in --directory first"
    )
    _add_progress_options(output)


def _add_strategy_options(strategy):
    """The search command's strategy options: which strategy, its own settings, the seed."""
    strategy.add_argument(
        "--strategy",
        choices=["genetic", "random", "pso", "differentiable", "tune"],
        help="genetic: mutate and cross the best genomes; random: sample every genome "
        "afresh; pso: particle swarm optimisation, particles flying towards the best "
        "genomes; differentiable: train a supernet of the space once, evaluate the "
        "genomes its learnt architecture weights derive first, then sample; tune: no "
        "architecture search, the known designs (TensorFlow-tutorial DCGAN, DCGAN, MLP GAN) "
        "with their training settings tuned at random (default: a "
        "stored run's own; else random for mnist_cpu with its final stage, genetic otherwise)",
    )
    strategy.add_argument(
        "--no-inherit-weights",
        action="store_true",
        help="genetic: train every child from scratch instead of starting it "
        "from its parent's trained weights",
    )
    strategy.add_argument(
        "--supernet-steps",
        type=_positive_int,
        metavar="N",
        help="differentiable: training steps of the supernet (default: one generation's "
        "worth, population x steps per candidate)",
    )
    strategy.add_argument(
        "--supernet-training",
        choices=["mixture", "single_path"],
        help="differentiable: mixture (default) learns which operation each slot prefers; "
        "single_path trains one random path per network call, then scores 64 random paths with "
        "the shared weights and evaluates the best first",
    )
    strategy.add_argument(
        "--path-finetune-steps",
        type=_positive_int,
        metavar="N",
        help="differentiable with --supernet-training single_path: fine-tune each scored "
        "path N steps from the supernet's weights before scoring it (default: no fine-tune)",
    )
    strategy.add_argument(
        "--recipe",
        action="store_true",
        help="also search the training recipe (generator EMA, DiffAugment, R1, "
        "discriminator steps) and residual / minibatch-std layers: "
        "SearchSpace.with_recipe() (default: off)",
    )
    strategy.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the genomes, the data split and the training (default: 0)",
    )


def _add_budget_options(budget):
    budget.add_argument(
        "--preset", default="default", choices=list(config_lib.PRESETS), help=_presets_help()
    )
    for key, text in (
        ("generations", "generations to run"),
        ("population", "genomes per generation (at least 2)"),
        ("steps_per_candidate", "training steps per candidate"),
        ("batch_size", "training batch size"),
        ("num_samples", "generated images scored per candidate"),
        ("max_params", "most parameters (generator and discriminator) a genome may have"),
    ):
        budget.add_argument(
            _option(key), type=_positive_int, metavar="N", help=_from_presets(text, key)
        )
    budget.add_argument(
        "--seconds-per-candidate",
        type=_positive_float,
        metavar="SECONDS",
        help="end a candidate's training after this long (not counting the first, "
        "compiling step) and score it; it records the steps it trained; unlike --timeout, "
        "which stops a candidate unscored (default: no limit)",
    )
    budget.add_argument(
        "--holdout-fraction",
        type=_fraction,
        metavar="F",
        help=_from_presets(
            "share of the images kept out of training and selection, where final scores are "
            "reported; 0 for none",
            "holdout_fraction",
        ),
    )
    budget.add_argument("--no-final", action="store_true", help=cli_final.final_help())
    budget.add_argument(
        "--stop-at",
        nargs="+",
        type=_target,
        metavar="NAME=VALUE",
        help="end the search after the generation in which a candidate meets every target, "
        "e.g. fid_domain=20 (names: the metrics, params, class_accuracy, fid_per_class; "
        "default: run every generation)",
    )
    zoo = budget.add_mutually_exclusive_group()
    zoo.add_argument(
        "--zoo",
        nargs="+",
        choices=zoo_lib.DESIGNS,
        metavar="DESIGN",
        help="known designs the first generation starts from, from: "
        + ", ".join(zoo_lib.DESIGNS)
        + " (default: all of them when the search has a final stage, which then "
        "retrains the best of them when it retrains 2 genomes or more; none without one)",
    )
    zoo.add_argument(
        "--no-zoo",
        action="store_true",
        help="start from the strategy's own genomes only, without known designs",
    )


def _add_fidelity_options(group):
    group.add_argument(
        "--fidelity",
        choices=["none", "successive_halving"],
        default="none",
        help="successive_halving: every candidate trains to the first rung, the best 1/eta "
        "continue from their own models to the next, and so on; the run reports how well "
        "each rung's ranking predicts the next (Spearman). none: every candidate trains "
        "--steps-per-candidate steps (default: none)",
    )
    group.add_argument(
        "--rungs",
        type=_positive_int,
        nargs="+",
        metavar="STEPS",
        help="successive_halving: increasing training steps of the rungs, e.g. 100 300 900 "
        "(default: 1/9, 1/3 and all of --steps-per-candidate)",
    )
    group.add_argument(
        "--eta",
        type=_positive_int,
        metavar="N",
        help="successive_halving: the best 1/N of a rung continue, N >= 2 (default: 3)",
    )


def _add_scoring_options(scoring):
    scoring.add_argument(
        "--metric",
        default="fid_domain",
        choices=METRICS,
        metavar="METRIC",
        help=f"fitness, one of {', '.join(METRICS)}: FID, KID or Inception Score under the "
        "domain extractor (a classifier trained on the data itself; not comparable to "
        "published FID) or InceptionV3 (needs its weights) (default: fid_domain)",
    )
    scoring.add_argument(
        "--objectives",
        nargs="+",
        metavar="NAME",
        choices=tuple(OBJECTIVES) + METRICS,
        help=f"objectives of a Pareto front, the metric's first: e.g. fid params. A metric "
        f"name stands for the objective it measures (fid_domain params = fid params). "
        f"Names: {', '.join(OBJECTIVES)} (default: the metric alone)",
    )


def _add_execution_options(execution):
    execution.add_argument(
        "--executor",
        default="subprocess",
        choices=["subprocess", "inprocess", "ray"],
        help="where candidates train: recycled worker processes, this process, or Ray "
        "tasks (default: subprocess)",
    )
    execution.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help=_from_presets("candidates trained at the same time", "workers"),
    )
    execution.add_argument(
        "--gpus",
        nargs="+",
        type=int,
        metavar="ID",
        help="GPU ids for subprocess workers (one candidate per GPU)",
    )
    execution.add_argument(
        "--threads-per-worker",
        type=_thread_count,
        metavar="N",
        help="subprocess: CPU threads each worker may use, or auto for cores / workers "
        "(default: the libraries' own, every core per worker)",
    )
    execution.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="wall-clock seconds one candidate may take in all (compiling and scoring "
        "included) before its worker is stopped and it is recorded as timed out, unscored; "
        "unlike --seconds-per-candidate, which ends training and still scores "
        "(default: no limit)",
    )
    execution.add_argument(
        "--max-candidates-per-worker",
        type=_positive_int,
        default=config_lib.RunSettings.max_candidates_per_worker,
        metavar="N",
        help="replace a worker process after this many candidates, bounding its memory "
        f"(default: {config_lib.RunSettings.max_candidates_per_worker})",
    )
    execution.add_argument(
        "--max-consecutive-failures",
        type=_positive_int,
        metavar="N",
        help="stop the search when this many candidates in a row fail the same way "
        "(default: three times the workers; 3 in process)",
    )
    execution.add_argument(
        "--backend",
        choices=["tensorflow", "jax", "auto"],
        help="Keras backend of the workers; auto: TensorFlow when installed (cheaper per "
        "candidate on a CPU), else JAX (default: current)",
    )
    execution.add_argument(
        "--xla",
        choices=["auto", "on", "off"],
        default="auto",
        help="XLA-compile train steps: auto (default) decides per candidate where it pays off",
    )
    execution.add_argument(
        "--no-xla", action="store_const", dest="xla", const="off", help="same as --xla off"
    )


def _add_progress_options(group):
    """What a search shows and where else it writes (search and resume)."""
    group.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="also write each candidate's genes and fitness as TensorBoard runs into DIR",
    )
    group.add_argument("--quiet", action="store_true", help="print nothing")
    console.add_console_flags(group, _VERBOSE_SEARCH_HELP)


def _add_resume_command(commands):
    resume = commands.add_parser(
        "resume",
        formatter_class=_HelpFormatter,
        help="resume a stopped search",
        description="Resume the search stored in DIRECTORY with its own settings.",
    )
    resume.add_argument("directory", help="the run directory of the search")
    resume.add_argument(
        "--generations", type=_positive_int, metavar="N", help="raise the number of generations"
    )
    resume.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="candidates trained at the same time (default: the stored number)",
    )
    _add_progress_options(resume)


def _add_report_command(commands):
    report = commands.add_parser(
        "report",
        formatter_class=_HelpFormatter,
        help="summary table, plots and an HTML report of a run",
        description="Print the summary table, write PNG plots into DIRECTORY/report and a "
        "self-contained page, DIRECTORY/report.html (nothing is trained).",
    )
    report.add_argument("directory", help="the run directory of a search")
    report.add_argument(
        "--top-k",
        "--top",
        dest="top",
        type=_positive_int,
        default=10,
        metavar="K",
        help="rows in the tables of best candidates (default: 10; --top is its old name)",
    )
    report.add_argument(
        "--grids",
        "--samples",
        dest="samples",
        type=_positive_int,
        default=4,
        metavar="K",
        help="sample grids of the K best generators in the page (default: 4; --samples is "
        "its old name)",
    )
    console.add_console_flags(report, _VERBOSE_HELP)


def _add_sample_command(commands):
    sample = commands.add_parser(
        "sample",
        formatter_class=_HelpFormatter,
        help="generate images with a run's best generator (or another candidate's)",
        description="Write a PNG grid of images from the best generator of DIRECTORY, or "
        "from the candidate given by --key.",
    )
    sample.add_argument("directory", help="the run directory of a search")
    sample.add_argument(
        "--key",
        help="the candidate whose generator to use: "
        + KEYS_HINT.format(directory="DIRECTORY")
        + " (default: the best candidate)",
    )
    sample.add_argument(
        "--num-images",
        "--n",
        dest="n",
        type=_positive_int,
        default=64,
        metavar="N",
        help="images in the grid (default: 64; --n is its old name)",
    )
    sample.add_argument("--out", default="grid.png", help="output PNG path (default: grid.png)")
    sample.add_argument(
        "--seed", type=int, default=0, help="seed of the latent vectors (default: 0)"
    )
    sample.add_argument(
        "--labels",
        "--class",
        dest="label",
        type=int,
        metavar="LABEL",
        help="conditional runs: the class of every image (default: one row per class; "
        "--class is its old name)",
    )
    console.add_console_flags(sample, _VERBOSE_HELP)
