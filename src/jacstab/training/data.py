"""Datasets without downloads: an IDX reader and a small registry (Fashion-MNIST from Debian, MNIST or any IDX folder).

A dataset is four IDX files in one folder (gzip-compressed or raw; LeCun et al.'s format):
``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``
(each optionally ending in ``.gz``). ``fashion-mnist`` defaults to ``/usr/share/datasets/fashion-mnist`` (Debian
package ``dataset-fashion-mnist``); ``mnist`` and ``idx`` (any folder) need ``data_dir``.

Everything is read once into tensors (no per-sample loop): pixels are scaled to ``[0, 1]``, then standardised with the
mean and standard deviation of the training split (one scalar each), so ``||x||^2 / d`` is about 1, as for the
Gaussian default input (paper footnote 1). A fixed validation split (its own seeded permutation, independent of any
trial seed) is carved out of the training set; the test set is never used to choose anything.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from jacstab._checks import DATASETS, check_int, closest

DEFAULT_DIRS = {"fashion-mnist": "/usr/share/datasets/fashion-mnist"}
HOW_TO_GET = {
    "fashion-mnist": "install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or "
    "give --data-dir with its four IDX files",
    "mnist": "give --data-dir, a folder with MNIST's four IDX files (jacstab never downloads data)",
    "idx": "give --data-dir, a folder with the four IDX files",
}
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
VAL_SIZE = 5000  # validation examples carved from the training set (1/12 of Fashion-MNIST's 60,000)
SPLIT_SEED = 20251123  # the validation split is the same for every trial and seed
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DataError(ValueError):
    """A dataset that is missing or malformed (one line naming the file and what is wrong)."""


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (raw or gzip) into a numpy array.

    Format: two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64),
    the number of dimensions ``k``, then ``k`` big-endian uint32 sizes and the data, row-major.

    Raises:
        DataError: unreadable file, wrong magic, unknown type, or a payload shorter or longer than the sizes say.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"cannot read IDX file {path}: {e}") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes, {ndim} dimensions)")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", ndim, 4))
    dtype = np.dtype(_DTYPES[raw[2]])
    need = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != need:
        raise DataError(
            f"{path}: IDX payload has {len(raw) - header} bytes, the header's shape {shape} needs {need} (truncated "
            "or corrupt file)"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape)


def resolve_folder(name: str, data_dir: str | Path | None = None) -> Path:
    """The folder holding ``name``'s four IDX files: ``data_dir`` if given, else the dataset's default folder.

    Raises:
        DataError: unknown name (with the closest one), no folder known, or a file missing (naming the folder
            looked in and how to get the data).
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}{closest(str(name), DATASETS)}; available: {', '.join(DATASETS)}")
    folder = data_dir if data_dir is not None else DEFAULT_DIRS.get(name)
    if folder is None:
        raise DataError(f"dataset {name!r} has no default folder: {HOW_TO_GET[name]}")
    folder = Path(folder).expanduser()
    for stem in FILES.values():
        if _file(folder, stem) is None:
            raise DataError(
                f"dataset {name!r}: {stem}[.gz] not found in {folder}; {HOW_TO_GET[name]}"
            )
    return folder


def _file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def fingerprint(name: str, data_dir: str | Path | None = None) -> str:
    """SHA-256 (first 16 hex digits) of the four files' bytes: what a trial's identity records of its data (moving
    the folder keeps it; changing a byte changes it)."""
    folder = resolve_folder(name, data_dir)
    return _fingerprint(str(folder), _stamp(folder))


def _stamp(folder: Path) -> tuple:
    files = [_file(folder, stem) for stem in FILES.values()]
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)


@functools.lru_cache(maxsize=8)
def _fingerprint(folder: str, stamp: tuple) -> str:
    h = hashlib.sha256()
    for path, _, _ in stamp:
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification dataset as tensors: ``x_*`` are ``(m, d)`` float, ``y_*`` are ``(m,)`` int64.

    ``train`` excludes the validation split; ``test`` is the official test set. ``mean``/``std`` are the
    normalisation constants (of the raw training pixels in ``[0, 1]``).
    """

    name: str
    folder: str
    fingerprint: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: int
    mean: float
    std: float
    notes: tuple[str, ...] = field(default=())

    @property
    def dim(self) -> int:
        """Input dimension ``d`` (pixels per image)."""
        return int(self.x_train.shape[1])

    def to(self, device=None, dtype: torch.dtype | None = None) -> Dataset:
        """A copy with the tensors moved/cast (labels stay int64)."""
        import dataclasses

        mv = lambda t: t.to(device=device, dtype=dtype)  # noqa: E731
        lab = lambda t: t.to(device=device)  # noqa: E731
        return dataclasses.replace(self, x_train=mv(self.x_train), x_val=mv(self.x_val), x_test=mv(self.x_test),
                                   y_train=lab(self.y_train), y_val=lab(self.y_val), y_test=lab(self.y_test))

    def describe(self) -> str:
        """One line for notes and reports."""
        return (f"{self.name} from {self.folder}: {len(self.y_train)} train, {len(self.y_val)} validation, "
                f"{len(self.y_test)} test, d = {self.dim}, {self.classes} classes")


def load_dataset(name: str = "fashion-mnist", data_dir: str | Path | None = None, *, subset: int | None = None,
                 val_size: int | None = None, dtype: torch.dtype = torch.float32) -> Dataset:
    """Load ``name`` into tensors: normalised images, a fixed seeded validation split, optional training subset.

    Args:
        name: ``fashion-mnist`` (default folder from the Debian package), ``mnist`` or ``idx`` (need ``data_dir``).
        data_dir: folder with the four IDX files (overrides the default folder).
        subset: keep only the first ``subset`` training examples of a fixed seeded permutation (after the
            validation split is removed); ``None`` keeps all.
        val_size: validation examples carved out of the training set (fixed permutation, seed ``SPLIT_SEED``); at
            most half the training set; default ``min(5000, m // 12)`` (5,000 of Fashion-MNIST's 60,000).
        dtype: float dtype of the images.

    Returns:
        A :class:`Dataset`; images ``(x / 255 - mean) / std`` with the training split's ``mean``/``std``.

    Raises:
        DataError: missing or malformed files, images and labels of different counts, bad sizes.
    """
    folder = resolve_folder(name, data_dir)
    return _load(name, str(folder), _stamp(folder), subset, val_size, dtype)


@functools.lru_cache(maxsize=4)
def _load(name: str, folder: str, stamp: tuple, subset: int | None, val_size: int | None,
          dtype: torch.dtype) -> Dataset:
    """:func:`load_dataset` after the folder is resolved (cached: a sweep normalises each dataset once per process;
    callers must not modify the tensors)."""
    arrays = _read_all(folder, stamp)
    xtr, ytr, xte, yte = (arrays[k] for k in FILES)
    m = len(ytr)
    val_size = min(VAL_SIZE, max(1, m // 12)) if val_size is None else val_size
    val_size = check_int("val_size", val_size, 1, max(1, m // 2))
    if subset is not None:
        subset = check_int("subset", subset, 1, m - val_size)
    perm = np.random.default_rng(SPLIT_SEED).permutation(m)
    val_idx, train_idx = perm[:val_size], perm[val_size:]
    if subset is not None:
        train_idx = train_idx[:subset]
    counts = np.bincount(xtr[train_idx].ravel(), minlength=256).astype(np.float64)  # exact pixel histogram
    levels = np.arange(256) / 255.0
    mean = float(counts @ levels / counts.sum())
    std = float(np.sqrt(counts @ (levels - mean) ** 2 / counts.sum())) or 1.0

    def prep(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.require(x, requirements=["C", "W"])).to(dtype).mul_(1.0 / 255.0).sub_(mean).div_(std)

    classes = int(max(ytr.max(), yte.max())) + 1
    return Dataset(
        name=name, folder=folder, fingerprint=_fingerprint(folder, stamp),
        x_train=prep(xtr[train_idx]), y_train=torch.from_numpy(ytr[train_idx].astype(np.int64)),
        x_val=prep(xtr[val_idx]), y_val=torch.from_numpy(ytr[val_idx].astype(np.int64)),
        x_test=prep(xte), y_test=torch.from_numpy(yte.astype(np.int64)),
        classes=classes, mean=mean, std=std,
    )


@functools.lru_cache(maxsize=2)
def _read_all(folder: str, stamp: tuple) -> dict[str, np.ndarray]:
    """The four arrays, images flattened to ``(m, d)``, checked for consistent counts and sizes (cached per folder
    and file stamp, so a sweep reads the files once per process)."""
    path = Path(folder)
    out = {}
    for key, stem in FILES.items():
        arr = read_idx(_file(path, stem))
        if key.endswith("images"):
            if arr.ndim < 2 or arr.dtype != np.uint8:
                raise DataError(f"{_file(path, stem)}: images must be uint8 with >= 2 dimensions, got {arr.dtype} "
                                f"{arr.shape}")
            arr = arr.reshape(arr.shape[0], -1)
        elif arr.ndim != 1:
            raise DataError(f"{_file(path, stem)}: labels must be one-dimensional, got shape {arr.shape}")
        out[key] = arr
    for split in ("train", "test"):
        ni, nl = len(out[f"{split}_images"]), len(out[f"{split}_labels"])
        if ni != nl:
            raise DataError(f"{folder}: {ni} {split} images but {nl} {split} labels")
        if ni == 0:
            raise DataError(f"{folder}: the {split} split is empty")
    if out["train_images"].shape[1] != out["test_images"].shape[1]:
        raise DataError(f"{folder}: train images have {out['train_images'].shape[1]} pixels, test images "
                        f"{out['test_images'].shape[1]}")
    for key in ("train_labels", "test_labels"):
        if out[key].min() < 0:
            raise DataError(f"{folder}: negative labels in {FILES[key]}")
    return out


def dataset_input(name: str, index: int = 0, data_dir: str | Path | None = None,
                  dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Test image ``index`` of ``name``, normalised as in :func:`load_dataset`: the paper measures ``||J||`` "at an
    input randomly selected from MNIST" (Section 3); this is the reproducible version of that choice.

    Raises:
        DataError: missing dataset; ValueError: index out of range.
    """
    ds = load_dataset(name, data_dir)
    index = check_int("input index", index, 0, len(ds.y_test) - 1)
    return ds.x_test[index].to(dtype)




def class_balanced_batch(ds: Dataset, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``size`` training examples of ``ds``, class-balanced: ``q = size // C`` per class plus one more for the first
    ``size % C`` classes, each class's examples chosen by a seeded permutation (stream
    ``(seed, STREAM_PRUNE_BATCH)``), ordered class by class. Float64 images, int64 labels.

    Raises:
        ValueError: a class has fewer training examples than it must give.
    """
    from jacstab.nets.streams import STREAM_PRUNE_BATCH, generator

    g = generator(seed, STREAM_PRUNE_BATCH)
    q, r = divmod(check_int("prune_batch", size, 1), ds.classes)
    picks = []
    for c in range(ds.classes):
        idx = torch.nonzero(ds.y_train == c).flatten()
        want = q + (c < r)
        if want > len(idx):
            raise ValueError(f"{ds.name}: class {c} has {len(idx)} training examples, the scoring batch of {size} "
                             f"needs {want}; lower prune_batch")
        picks.append(idx[torch.randperm(len(idx), generator=g)[:want]])
    sel = torch.cat(picks)
    return ds.x_train[sel].to(torch.float64), ds.y_train[sel]


def pruning_batch(spec, seed: int, data_dir: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The batch ``sample(spec, seed, data=...)`` scores snip/grasp on when ``spec.prune_data`` names a dataset
    (``None`` for ``synthetic`` or a criterion that reads no data): :func:`class_balanced_batch` of
    ``prune_batch`` (default 64) training examples chosen with ``prune_batch_seed`` (default ``seed``). The
    caller reads the files, so the math core never does; a lab trial's id covers the dataset's fingerprint, the
    batch size and the batch seed.

    Raises:
        DataError: missing dataset; ValueError: the spec's input dimension is not the images' size, or more classes
        than ``out_dim``.
    """
    pruning = spec.pruning
    if pruning.data == "synthetic" or pruning.method not in ("snip", "grasp"):
        return None
    ds = load_dataset(pruning.data, data_dir)
    if spec.input_dim != ds.dim or ds.classes > spec.out_dim:
        raise ValueError(f"prune_data={pruning.data!r} has d = {ds.dim} and {ds.classes} classes: the spec needs "
                         f"in_dim = {ds.dim} (got {spec.input_dim}) and out_dim >= {ds.classes} (got {spec.out_dim})")
    size = 64 if pruning.batch is None else pruning.batch
    return class_balanced_batch(ds, size, seed if pruning.batch_seed is None else pruning.batch_seed)
