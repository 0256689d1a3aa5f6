"""Candidate folders written whole: staging, publishing, checking.

One process writes a candidate's files in a private staging folder, then
`publish_candidate` records a manifest (its pid and each file's sha256) and
renames the folder into place, so `candidates/<key>/` (and any folder
published the same way) only ever holds one process's complete set of files.
`kgan_nas.store.run_dir` re-exports these for its callers.
"""

import hashlib
import json
import os
import shutil
import uuid

from kgan_nas.store.atomic import atomic_write_json
from kgan_nas.store.atomic import sync_directory

STAGING_PREFIX = ".staging-"
TRASH_PREFIX = ".trash-"
MANIFEST = "manifest.json"
# The `Fitness` a candidate's files were scored with, published with them.
FITNESS_FILE = "fitness.json"


def staging_dir_for(candidate_dir):
    """A private folder beside `candidate_dir` where one process writes a candidate.

    Whoever evaluates a candidate writes its files here and then calls
    `publish_candidate`, so `candidates/<key>/` only ever holds one process's
    complete set of files.
    """
    parent, key = os.path.split(os.path.normpath(os.fspath(candidate_dir)))
    return os.path.join(parent, f"{STAGING_PREFIX}{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def publish_candidate(staging, candidate_dir):
    """Moves a finished staging folder into place as `candidate_dir`, as one unit.

    A `manifest.json` records the writer's process id, the sha256 of every
    file and a random id of this publish (`publish_id`), so a reader can
    check the folder is one process's complete set, and tell one publish of
    a folder from the next. An existing folder (the candidate evaluated
    again) is replaced whole.

    Args:
        staging: Folder from `staging_dir_for(candidate_dir)`.
        candidate_dir: Destination, `<run>/candidates/<key>`.

    Returns:
        True if something was published (a staging folder with files).
    """
    if not os.path.isdir(staging):
        return False
    names = sorted(name for name in os.listdir(staging) if name != MANIFEST)
    if not names:
        shutil.rmtree(staging, ignore_errors=True)
        return False
    atomic_write_json(
        os.path.join(staging, MANIFEST),
        {
            "key": os.path.basename(os.path.normpath(candidate_dir)),
            "pid": os.getpid(),
            "id": uuid.uuid4().hex,
            "files": {name: _sha256(os.path.join(staging, name)) for name in names},
        },
    )
    parent, key = os.path.split(os.path.normpath(candidate_dir))
    trash = os.path.join(parent, f"{TRASH_PREFIX}{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    if os.path.exists(candidate_dir):
        os.replace(candidate_dir, trash)
    os.replace(staging, candidate_dir)
    sync_directory(parent)
    shutil.rmtree(trash, ignore_errors=True)
    return True


def recover_published(folder, is_name):
    """Tidies a folder of `publish_candidate` folders after a kill (lock holder only).

    A staging folder (its writer died before publishing; it runs again) is
    removed; a trash folder whose destination is missing (a publish cut
    between its two renames) goes back.

    Args:
        folder: The parent folder (e.g. `<run>/candidates`); may not exist.
        is_name: Tells whether a name is a valid published folder name.
    """
    if not os.path.isdir(folder):
        return
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.startswith(STAGING_PREFIX):
            shutil.rmtree(path, ignore_errors=True)
        elif name.startswith(TRASH_PREFIX):
            key = name[len(TRASH_PREFIX) :].split("-", 1)[0]
            destination = os.path.join(folder, key)
            if is_name(key) and not os.path.exists(destination):
                os.replace(path, destination)
            else:
                shutil.rmtree(path, ignore_errors=True)


def publish_id(candidate_dir):
    """The id of the publish that wrote `candidate_dir`; None without a manifest or id."""
    manifest = _json_object_or_none(os.path.join(candidate_dir, MANIFEST))
    return None if manifest is None else manifest.get("id")


def published_fitness(candidate_dir):
    """The `Fitness` dict published with a candidate's files (`FITNESS_FILE`), or None."""
    return _json_object_or_none(os.path.join(candidate_dir, FITNESS_FILE))


def _json_object_or_none(path):
    """The JSON object in `path`; None if it is missing, unreadable or not an object.

    For best-effort recovery, which falls back to doing the work again.
    """
    try:
        with open(path, encoding="utf-8") as stream:
            value = json.load(stream)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def check_candidate(candidate_dir):
    """Problems with a published candidate folder (empty list: consistent).

    Checks that its manifest lists exactly its files and that each file's
    sha256 matches, i.e. that one process wrote the whole set.
    """
    path = os.path.join(candidate_dir, MANIFEST)
    if not os.path.isfile(path):
        return [f"{candidate_dir} has no {MANIFEST}"]
    with open(path, encoding="utf-8") as stream:
        manifest = json.load(stream)
    present = sorted(name for name in os.listdir(candidate_dir) if name != MANIFEST)
    problems = []
    if sorted(manifest.get("files", {})) != present:
        problems.append(
            f"{candidate_dir}: files {present} but manifest lists "
            f"{sorted(manifest.get('files', {}))}"
        )
    for name, digest in manifest.get("files", {}).items():
        target = os.path.join(candidate_dir, name)
        if os.path.isfile(target) and _sha256(target) != digest:
            problems.append(f"{candidate_dir}/{name} differs from the manifest")
    return problems


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
