"""Which known designs a search starts from (`SearchOptions.zoo`), pure Python.

The zoo (`kgan_nas.core.zoo`) is on by default when a search has a final
stage: the final stage then weighs the best known design against what the
search found, on the held-out score (`FinalConfig.zoo_finalist`, with a
`top_k` of 2 or more), so the search's answer is a known design whenever
nothing it found does better there. Without a final stage the
search's own best is the answer, and the default leaves the first
generation to the strategy, as before the zoo existed.
"""

from kgan_nas.core import zoo as zoo_lib
from kgan_nas.store import run_dir as run_lib


def check_zoo_option(zoo):
    """Checks `SearchOptions.zoo` before any data loads.

    Args:
        zoo: None, True, False or design names.

    Returns:
        None, True, False, or the names as a tuple.

    Raises:
        ValueError: for another value or an unknown design name.
    """
    if zoo is None or isinstance(zoo, bool):
        return zoo
    if isinstance(zoo, str):
        zoo = (zoo,)
    if not isinstance(zoo, (list, tuple)):
        raise ValueError(
            f"SearchOptions.zoo must be None, True, False or a list of design names in order "
            f"({', '.join(zoo_lib.DESIGNS)}), got {zoo!r}."
        )
    return zoo_lib.check_names(zoo)


def zoo_names(zoo, has_final, directory, overwrite, default=None):
    """The design names a search asks for.

    Args:
        zoo: `SearchOptions.zoo`, checked.
        has_final: Whether the search has a final stage.
        directory: The run directory (a stored run keeps its own choice when
            `zoo` is None, so the command that started it resumes it).
        overwrite: Whether a stored run is being replaced.
        default: The designs `zoo=None` means with a final stage; None: every
            design (a tuning strategy narrowed to some designs passes those).

    Returns:
        A tuple of names from `zoo_lib.DESIGNS`.
    """
    if zoo is None:
        run = run_lib.RunDir(directory)
        if not overwrite and run.exists:
            return tuple(run.config().get("zoo", ()))
        return (tuple(default or ()) or zoo_lib.DESIGNS) if has_final else ()
    if zoo is True:
        return zoo_lib.DESIGNS
    if zoo is False:
        return ()
    return tuple(zoo)


def start_from_zoo(strategy, space, names):
    """Queues the named designs that fit `space` as the strategy's first genomes.

    Args:
        strategy: The `kgan_nas.strategies.Strategy`.
        space: The `SearchSpace`.
        names: Design names.

    Returns:
        `(fitted names, lines)`: the names queued, in order, and what to
        tell the user (the designs queued and those left out, with why).
    """
    entries = zoo_lib.fit(space, names)
    fitted = [entry for entry in entries if entry.fits]
    strategy.start_from([entry.genome for entry in fitted])
    return tuple(entry.name for entry in fitted), zoo_lines(entries)


def zoo_lines(entries):
    """The lines that say which designs a search starts from and which it left out."""
    if not entries:
        return []
    fitted = [_with_scale(entry) for entry in entries if entry.fits]
    lines = [
        "Known designs (zoo) queued first: "
        + (", ".join(fitted) if fitted else "none fits this space")
        + " (SearchOptions(zoo=False) or --no-zoo leaves them out)."
    ]
    # One line per reason: the +recipe variants often share one.
    reasons = {}
    for entry in entries:
        if not entry.fits:
            reasons.setdefault(entry.reason, []).append(entry.name)
    for reason, names in reasons.items():
        noun = "design" if len(names) == 1 else "designs"
        lines.append(f"  zoo {noun} {', '.join(names)} left out: {reason}.")
    return lines


def unevaluated_line(names, budget):
    """A line when the search's whole budget is too small for every queued design.

    Queued designs spill into the next generations (`Strategy.start_from`), so
    only those past `generations x population` are never evaluated.

    Args:
        names: The queued design names, in order.
        budget: The resolved budget (`generations`, `population`).

    Returns:
        `[line]` naming the designs left unevaluated and the budget that covers
        them, or saying that the budget holds only known designs; else `[]`.
    """
    total = budget["generations"] * budget["population"]
    left = list(names)[total:]
    if not left:
        if names and len(names) >= total:
            return [
                f"  The {total} candidate{'' if total == 1 else 's'} of this budget "
                "(generations x population) are all known designs: no genome of the "
                "search's own is evaluated."
            ]
        return []
    return [
        f"  zoo {'design' if len(left) == 1 else 'designs'} {', '.join(left)} will not be "
        f"evaluated: the search evaluates {total} candidate{'' if total == 1 else 's'} in all "
        f"(generations x population); {len(names)} would cover every queued design."
    ]


def _with_scale(entry):
    """`tf_dcgan`, or `tf_dcgan (widths x0.125)` when narrowed to the space's bounds."""
    narrowed = [change for change in entry.changes if change.startswith("widths x")]
    return entry.name + (f" ({narrowed[0].split(' to ')[0]})" if narrowed else "")


def zoo_keys(space, names):
    """`{genome key: design name}` of the named designs as fitted to `space`."""
    return {genome.key(): name for name, genome in zoo_lib.genomes(space, names).items()}
