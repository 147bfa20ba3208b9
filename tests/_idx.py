"""Tiny IDX datasets written byte by byte (the real reader reads real bytes; no dataset package needed)."""

import gzip
import struct
from pathlib import Path

import numpy as np

CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C,
         np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def idx_bytes(arr: np.ndarray) -> bytes:
    """The IDX encoding of ``arr``: 0, 0, type code, ndim, big-endian uint32 sizes, data."""
    head = bytes([0, 0, CODES[arr.dtype], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return head + arr.tobytes()


def write_idx(path: Path, arr: np.ndarray, gz: bool = False) -> Path:
    data = idx_bytes(arr)
    path = Path(str(path) + ".gz") if gz else Path(path)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def toy_images(m: int, patterns: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Learnable images: class c lights its own fixed pixel pattern ``patterns[c]``, plus noise (uint8)."""
    classes, side = len(patterns), round(patterns.shape[1] ** 0.5)
    y = rng.integers(0, classes, m).astype(np.uint8)
    x = rng.integers(0, 60, (m, side * side)) + 180 * patterns[y]
    return x.clip(0, 255).astype(np.uint8).reshape(m, side, side), y


def write_dataset(folder: Path, *, train: int = 600, test: int = 200, side: int = 8, classes: int = 10,
                  seed: int = 0, gz: bool = False) -> Path:
    """The four standard files of a toy dataset in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    patterns = np.random.default_rng(seed).random((classes, side * side)) < 0.3
    xtr, ytr = toy_images(train, patterns, np.random.default_rng(seed + 1))
    xte, yte = toy_images(test, patterns, np.random.default_rng(seed + 2))
    for stem, arr in (("train-images-idx3-ubyte", xtr), ("train-labels-idx1-ubyte", ytr),
                      ("t10k-images-idx3-ubyte", xte), ("t10k-labels-idx1-ubyte", yte)):
        write_idx(folder / stem, arr, gz)
    return folder
