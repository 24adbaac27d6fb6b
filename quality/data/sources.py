"""Which modality a source is, decided from its name or path alone."""

from __future__ import annotations

import hashlib
from pathlib import Path

from quality.data.tables import BUILTIN_TABLES

IMAGE_BUILTINS = ("digits",)
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
IMAGE_SUFFIXES = (".npz",)
MAX_NAME_LENGTH = 63  # a partition key's limit


def canonical_path(path: str | Path) -> Path:
    """An absolute spelling of an existing source: a folder resolved; a file's folder resolved but its own
    name kept, so a symlink to a blob without a suffix (Hugging Face or DVC caches) is still a .csv/.npz."""
    path = Path(path).expanduser()
    if path.is_dir():
        return path.resolve()
    return path.absolute().parent.resolve() / path.name


def modality_of(source: str) -> str:
    """``"tabular"`` or ``"image"``; raises ``ValueError`` for a source synthlift cannot read."""
    if source in BUILTIN_TABLES:
        return "tabular"
    if source in IMAGE_BUILTINS:
        return "image"
    path = Path(source)
    if path.suffix.lower() in TABLE_SUFFIXES:
        return "tabular"
    if path.suffix.lower() in IMAGE_SUFFIXES or path.is_dir():
        return "image"
    if not path.exists():
        builtins = ", ".join([*BUILTIN_TABLES, *IMAGE_BUILTINS])
        raise FileNotFoundError(f"{source}: no such file or folder (built-in sources are: {builtins})")
    raise ValueError(
        f"{source}: unsupported source; use a CSV/Parquet table, a MedMNIST .npz file, "
        "a folder with one sub-folder of images per class, or a built-in name"
    )


def default_dataset_name(source: str) -> str:
    """The publication (and partition) name of a source: a built-in's name or the file/folder stem when it is
    already a valid name; otherwise the stem lower-cased, with anything but ASCII letters, digits, '-' and '_'
    replaced, shortened, and followed by a short hash of the stem (a stem that differs from a valid name only in
    letter case is just lower-cased), so that 'My Data.csv' and 'my_data.csv'
    (or two names in another script) are not published as versions of one dataset."""
    stem = source if source in BUILTIN_TABLES or source in IMAGE_BUILTINS else Path(source.rstrip("/")).stem
    cleaned = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-_" else "_" for ch in stem.lower())
    cleaned = cleaned.strip("_-")
    # letter case alone gets no hash: 'Iris.csv' is published as 'iris'
    if cleaned == stem.lower() and len(cleaned) <= MAX_NAME_LENGTH:
        return cleaned
    digest = hashlib.sha256(stem.encode()).hexdigest()[:8]
    return f"{cleaned[:MAX_NAME_LENGTH - len(digest) - 1].strip('_-') or 'dataset'}-{digest}"

