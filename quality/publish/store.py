"""Versioned, atomic publication and the record of rejections.

A version is written into a staging folder beside its final place and renamed into place in one
step, then the ``LATEST`` pointer is replaced atomically; a failure at any point leaves the last
published version and the pointer untouched. Rejections are recorded next to the versions.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from quality.publish.card import DATA_CARD

LATEST_POINTER = "LATEST"
PUBLISHED_FILE_OF = {"tabular": "augmented.parquet", "image": "manifest.parquet"}


def publish_version(publish_root: Path, dataset_name: str, write: Callable[[Path], None]) -> Path:
    """Call ``write(staging_dir)`` and move the result into ``<root>/<dataset>/vNNNN`` atomically."""
    dataset_dir = Path(publish_root) / dataset_name
    dataset_dir.mkdir(parents=True, exist_ok=True)
    staging = dataset_dir / f".staging-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        write(staging)
        final = _claim_next_version(dataset_dir, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    replace_text(dataset_dir / LATEST_POINTER, final.name + "\n")
    return final


def latest_publication(publish_root: Path, dataset_name: str) -> Optional[Path]:
    pointer = Path(publish_root) / dataset_name / LATEST_POINTER
    if not pointer.exists():
        return None
    return pointer.parent / pointer.read_text().strip()


def record_rejection(publish_root: Path, dataset_name: str, card: dict[str, Any], run_id: str = "") -> Path:
    """Store a rejected run's data card under ``<root>/<dataset>/rejections/``; publications are untouched.

    With ``run_id`` the record is ``<run_id>.json``, so a later step of the same run can rewrite it with
    more evidence; without, it is named by the time.
    """
    key = run_id or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    path = rejection_path(publish_root, dataset_name, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_text(path, json.dumps(card, indent=2, default=str))
    return path


def latest_data_card(publish_root: Path, dataset_name: str) -> Optional[dict[str, Any]]:
    """The data card of a dataset's latest publication, or None when it has none or it cannot be read (a
    damaged card must not stop the next publication, which replaces it as LATEST)."""
    latest = latest_publication(publish_root, dataset_name)
    card = latest / DATA_CARD if latest is not None else None
    if card is None or not card.is_file():
        return None
    try:
        loaded = json.loads(card.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        loaded = None
    if isinstance(loaded, dict):
        return loaded
    # the version's files still say what kind of data readers get there: keep the modality guard
    modality = next((m for m, f in PUBLISHED_FILE_OF.items() if (latest / f).is_file()), None)
    return {"modality": modality, "model_version": latest.name} if modality else None


def published_source_warnings(card: dict | None, modality: str, source: str, name: str) -> list[str]:
    """Refuse a run that would publish another kind of data under ``name``; warn when the source changed."""
    if card is None:
        return []
    if card.get("modality") != modality:
        raise ValueError(
            f"dataset name {name!r}: its latest publication ({card.get('model_version')}) holds "
            f"{card.get('modality')} data from {card.get('source') or 'a source its damaged data card no longer names'}"
            f", and this source is {modality} data; publish it under another name (synthlift run --name, or another "
            "partition)"
        )
    if card.get("source") not in (None, source):  # None: a damaged card, whose source is unknown
        return [f"dataset {name!r} was last published from {card.get('source')}; this run reads {source} "
                "(give it another name if it is another dataset)"]
    return []


def rejection_path(publish_root: Path, dataset_name: str, key: str) -> Path:
    """Where the rejection record named ``key`` (a run id, or a time stamp) of a dataset lives."""
    return Path(publish_root) / dataset_name / "rejections" / f"{key}.json"


def _claim_next_version(dataset_dir: Path, staging: Path) -> Path:
    """Rename ``staging`` to the next free ``vNNNN``; a rename onto an existing version fails, so
    concurrent publishers never overwrite each other."""
    existing = [int(p.name[1:]) for p in dataset_dir.glob("v[0-9]*") if p.name[1:].isdigit()]
    number = max(existing, default=0) + 1
    while True:
        target = dataset_dir / f"v{number:04d}"
        if not target.exists():
            try:
                os.rename(staging, target)  # fails if another publisher filled this version first
                return target
            except OSError:
                if not target.exists():
                    raise
        number += 1


def replace_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: readers see the old file or the new one, never a partial one."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
