"""The protocol card: how a run's numbers were made, in one small JSON object (pure Python).

A score means little without its protocol: which data (and exactly which
bytes: the fingerprint), how it was split, how many images each score
compares, which feature extractor, which seeds, how many training steps, on
which backend and library versions. The card gathers these from what the run
directory already holds (`config.json`'s `"search"`, `"run"` and `"details"`,
and the extractor's sidecar `extractor.json`) into one object, written as
`protocol.json` when a search starts (`write_protocol_card`), shown in the
HTML report and returned by `kgan_nas.SearchResult.protocol`.

Anything a run did not record (runs written before the card existed) is
`None`, which the report shows as "not recorded".
"""

import json
import os

from kgan_nas.core.objectives import parse_metric
from kgan_nas.store import run_dir as run_lib
from kgan_nas.store.atomic import atomic_write_json

PROTOCOL_JSON = "protocol.json"
# Raise when a field changes meaning; readers compare it.
CARD_FORMAT = 1
EXTRACTOR_SIDECAR = "extractor.json"
NOT_RECORDED = "not recorded"


def data_details(data):
    """What the card needs to know about the data that `config.json` does not hold.

    Stored in `config.json`'s `"details"` under `"data"` when a search starts.

    Args:
        data: The search's `kgan_nas.data.ImageData`.

    Returns:
        A dict: the number of images in each split (`"holdout"` is None for data
        without a held-out split) and the number of classes (None without labels).
    """
    holdout = getattr(data, "holdout", None)
    return {
        "splits": {
            "train": int(len(data.train)),
            "eval": int(len(data.eval)),
            "holdout": None if holdout is None else int(len(holdout)),
        },
        "num_classes": data.num_classes,
    }


def protocol_card(run_dir):
    """Builds the protocol card of a run from what its directory holds.

    Args:
        run_dir: A `kgan_nas.store.run_dir.RunDir` holding a run.

    Returns:
        A JSON-able dict with the sections `dataset`, `splits`, `samples`,
        `features`, `seeds`, `steps`, `backend` and `versions` (plus `format`).
        A value the run did not record is None.

    Raises:
        kgan_nas.store.run_dir.RunDirectoryError: if `config.json` is missing or damaged.
    """
    config = run_dir.config()
    settings, details = run_dir.run_settings(), run_dir.details()
    data = details.get("data") if isinstance(details.get("data"), dict) else {}
    splits = data.get("splits") if isinstance(data.get("splits"), dict) else {}
    evaluation = config.get("evaluation") if isinstance(config.get("evaluation"), dict) else {}
    final = config.get("final") if isinstance(config.get("final"), dict) else None
    return {
        "format": CARD_FORMAT,
        "dataset": {
            "name": config.get("dataset"),
            "fingerprint": config.get("data_fingerprint"),
            "image_shape": config.get("image_shape"),
            "num_classes": data.get("num_classes"),
        },
        "splits": {name: splits.get(name) for name in ("train", "eval", "holdout")},
        "samples": _samples(evaluation, splits, final),
        "features": _features(run_dir, config),
        "seeds": _seeds(run_dir, config),
        "steps": {
            "search": evaluation.get("steps"),
            "batch_size": evaluation.get("batch_size"),
            "seconds_per_candidate": evaluation.get("seconds"),
            "final": final,
            "fidelity": config.get("fidelity"),
        },
        "backend": details.get("backend") or settings.get("backend"),
        "versions": details.get("versions") or None,
    }


def write_protocol_card(run_dir):
    """Writes the run's protocol card as `protocol.json` in its directory (atomically).

    Args:
        run_dir: A `kgan_nas.store.run_dir.RunDir` holding a run (its extractor already
            prepared, so that the card names it).

    Returns:
        The card (a dict).
    """
    card = protocol_card(run_dir)
    atomic_write_json(run_dir.file(PROTOCOL_JSON), card)
    return card


def read_protocol_card(run_dir):
    """The run's protocol card: `protocol.json`, or one built from the directory.

    A run written before the card existed has no `protocol.json`; its card is
    built from what it did record, the rest None.

    Args:
        run_dir: A `kgan_nas.store.run_dir.RunDir` holding a run.

    Returns:
        The card (a dict).
    """
    path = run_dir.file(PROTOCOL_JSON)
    if os.path.isfile(path):
        card = run_lib.read_json(path)
        if card.get("format") == CARD_FORMAT:
            return card
    return protocol_card(run_dir)


def card_rows(card):
    """The card as `(label, text)` rows for people (the report, the CLI).

    Args:
        card: A protocol card (`protocol_card`).

    Returns:
        A list of `(label, text)` pairs; a value not recorded reads "not recorded".
    """
    dataset, splits, samples = card["dataset"], card["splits"], card["samples"]
    features, seeds, steps = card["features"], card["seeds"], card["steps"]
    versions = card.get("versions") or {}
    selection, reporting = samples["selection"], samples["reporting"]
    return [
        ("dataset", _text(dataset["name"])),
        ("data fingerprint", _text(dataset["fingerprint"])),
        ("image shape", _text(dataset["image_shape"])),
        ("classes", _text(dataset["num_classes"])),
        ("split sizes (train / eval / holdout)", _joined(splits, ("train", "eval", "holdout"))),
        ("samples for selection (generated vs real)", _samples_text(selection)),
        ("samples for reporting (generated vs real)", _samples_text(reporting)),
        ("feature extractor", _text(features["extractor"])),
        ("extractor cache key", _domain_only(features, "cache_key")),
        ("extractor held-out accuracy", _domain_only(features, "accuracy")),
        ("seeds (search / split / extractor)", _joined(seeds, ("search", "split", "extractor"))),
        ("training steps per candidate (search)", _text(steps["search"])),
        ("batch size", _text(steps["batch_size"])),
        ("final training", "none" if steps["final"] is None else _text(steps["final"])),
        (
            "multi-fidelity (rungs of steps)",
            "none" if not steps.get("fidelity") else _text(steps["fidelity"]),
        ),
        ("backend", _text(card.get("backend"))),
        (
            "versions",
            ", ".join(f"{name} {version}" for name, version in versions.items() if version)
            or NOT_RECORDED,
        ),
    ]


def _samples(evaluation, splits, final):
    """Images each score compares: in the search (selection) and in what is reported."""
    selection = {
        "generated": evaluation.get("num_samples"),
        "real": splits.get("eval"),
        "real_split": "eval",
    }
    if final is None:
        # No final stage: the reported scores are the search's own.
        reporting = dict(selection, same_as_selection=True)
    else:
        reporting = {
            "generated": final.get("num_samples"),
            "real": splits.get("holdout"),
            "real_split": "holdout",
            "same_as_selection": False,
        }
    return {"selection": selection, "reporting": reporting}


def _features(run_dir, config):
    """The feature extractor's name and, for the domain extractor, its identity."""
    try:
        _, extractor = parse_metric(config.get("metric"))
    except (ValueError, TypeError):
        extractor = None
    sidecar = _extractor_sidecar(run_dir)
    metadata = sidecar.get("metadata") if isinstance(sidecar.get("metadata"), dict) else {}
    return {
        "extractor": extractor,
        "cache_key": metadata.get("cache_key"),
        "data_fingerprint": sidecar.get("fingerprint"),
        "accuracy": sidecar.get("accuracy"),
        "label_source": metadata.get("label_source"),
    }


def _seeds(run_dir, config):
    """The seeds behind a run's numbers."""
    seed = config.get("seed")
    metadata = _extractor_sidecar(run_dir).get("metadata") or {}
    return {
        "search": seed,
        # `search` splits the data with its own seed (`load_dataset(seed=seed)`).
        "split": seed,
        "candidates": None if seed is None else "derived from the search seed and genome key",
        "extractor": metadata.get("seed") if isinstance(metadata, dict) else None,
    }


def _extractor_sidecar(run_dir):
    """The run's `extractor.json` (written beside `extractor.keras`), or {}."""
    path = run_dir.file(EXTRACTOR_SIDECAR)
    try:
        with open(path, encoding="utf-8") as stream:
            sidecar = json.load(stream)
    except (OSError, ValueError):
        return {}
    return sidecar if isinstance(sidecar, dict) else {}


def _text(value):
    if value is None:
        return NOT_RECORDED
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return " x ".join(str(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key} {item}" for key, item in value.items())
    return str(value)


def _domain_only(features, name):
    """A fact only the domain extractor has (InceptionV3 is not trained per data set)."""
    if features["extractor"] not in (None, "domain"):
        return f"none ({features['extractor']} is not trained on the data)"
    return _text(features[name])


def _joined(values, names):
    if all(values.get(name) is None for name in names):
        return NOT_RECORDED
    return " / ".join("none" if values.get(name) is None else str(values[name]) for name in names)


def _samples_text(samples):
    if samples.get("generated") is None and samples.get("real") is None:
        return NOT_RECORDED
    text = f"{_text(samples.get('generated'))} vs {_text(samples.get('real'))}"
    text += f" ({samples.get('real_split')} split)"
    if samples.get("same_as_selection"):
        text += "; the reported scores are the search's own"
    return text
