"""Reading a folder with one sub-folder of PNG/JPEG images per class (the ImageFolder layout)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional

import numpy as np

from quality.data.images import (
    FOLDER_IMAGE_SIZE, ImageDataset, check_class_names_publishable, check_size_argument,
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GRAYSCALE_PIL_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def load_image_folder(
    path: str | Path,
    size: Optional[int] = FOLDER_IMAGE_SIZE,
    channels: Optional[int] = None,
    on_non_image: str = "warn",
) -> ImageDataset:
    """Load one sub-folder per class of PNG/JPEG images; the folder name is the class name.

    - ``size``: resize every image to ``size x size`` (bilinear). ``None`` keeps the stored size, and then
      every image must share one size (otherwise a ``ValueError`` names two files of different sizes).
    - ``channels``: 1 (grayscale) or 3 (RGB); ``None`` picks 1 when every image is grayscale, else 3.
    - ``on_non_image``: what to do with files in class folders that are not ``.png``/``.jpg``/``.jpeg``:
      ``"warn"`` skips them with a warning naming them, ``"error"`` raises a ``ValueError`` naming them.
      Hidden files (``.DS_Store`` ...) are always ignored.

    A file with an image suffix that Pillow cannot read, or an empty class folder, raises ``ValueError``.
    """
    from PIL import Image

    if on_non_image not in ("warn", "error"):
        raise ValueError(f"on_non_image must be 'warn' or 'error', got {on_non_image!r}")
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1, 3 or None, got {channels!r}")
    check_size_argument(size)
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"image folder {root} does not exist or is not a directory")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(class_dirs) < 2:
        raise ValueError(
            f"image folder {root} has {len(class_dirs)} class sub-folder(s); it needs at least two classes "
            "(one sub-folder of images per class)"
        )

    files_per_class = [_image_files(class_dir, on_non_image) for class_dir in class_dirs]
    pictures = []
    for files in files_per_class:
        for file in files:
            pictures.append((file, _open_image(file, Image)))
    if channels is None:
        channels = 1 if all(picture.mode in GRAYSCALE_PIL_MODES for _, picture in pictures) else 3
    if size is None:
        _check_one_size(pictures)

    mode = "L" if channels == 1 else "RGB"
    arrays = []
    for _, picture in pictures:
        picture = picture.convert(mode)
        if size is not None and picture.size != (size, size):
            picture = picture.resize((size, size), Image.Resampling.BILINEAR)
        arrays.append(np.asarray(picture, dtype=np.uint8).reshape(picture.size[1], picture.size[0], channels))
    labels = np.concatenate([np.full(len(files), index, dtype=np.int64) for index, files in enumerate(files_per_class)])
    class_names = [d.name for d in class_dirs]
    # 'a b' and 'a_b' would share a published folder; a folder's own name needs no length limit
    check_class_names_publishable(class_names, root, max_chars=None)
    return ImageDataset(np.stack(arrays), labels, class_names, f"image_folder:{root}")


def _image_files(class_dir: Path, on_non_image: str) -> list[Path]:
    entries = sorted(p for p in class_dir.iterdir() if not p.name.startswith("."))
    images = [p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    others = [p for p in entries if p not in images]
    if others:
        message = (
            f"class folder {class_dir} holds {len(others)} non-image entr(y/ies) "
            f"(only {', '.join(IMAGE_SUFFIXES)} are read): {', '.join(p.name for p in others)}"
        )
        if on_non_image == "error":
            raise ValueError(message + "; move them out or pass on_non_image='warn' to skip them")
        warnings.warn(message + "; skipped", stacklevel=3)
    if not images:
        raise ValueError(f"class folder {class_dir} has no PNG/JPEG images; add images or remove the folder")
    return images


def _open_image(file: Path, image_module):
    try:
        picture = image_module.open(file)
        picture.load()
    except Exception as err:  # Pillow raises many types (OSError, SyntaxError, DecompressionBombError ...)
        raise ValueError(f"image file {file} cannot be read ({type(err).__name__}: {err}); is it corrupt?") from None
    return picture


def _check_one_size(pictures: list) -> None:
    first_file, first = pictures[0]
    for file, picture in pictures[1:]:
        if picture.size != first.size:
            raise ValueError(
                f"images differ in size: {first_file} is {first.size[0]}x{first.size[1]} but {file} is "
                f"{picture.size[0]}x{picture.size[1]}; pass size=N to resize them all to NxN"
            )


# --------------------------------------------------------------------------------------------- digits
