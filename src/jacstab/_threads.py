"""How many threads a jacstab process computes with (set once per process, by the CLI and the sweep workers).

``JACSTAB_THREADS`` overrides everything. Otherwise small problems get one thread: at width < 512 a layer product is
too small to gain from more, and OpenMP threads that share busy cores with other processes slow a depth curve
down 5-1000x (jacstab 0.1, measured on 2 cores); wider networks use every core.
"""

from __future__ import annotations

import os

THREADS_ENV = "JACSTAB_THREADS"
SINGLE_THREAD_BELOW_WIDTH = 512


def threads_for(width: int, workers: int = 1) -> int:
    """The thread count for a process that computes networks of ``width`` next to ``workers - 1`` siblings."""
    value = os.environ.get(THREADS_ENV)
    if value is not None:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{THREADS_ENV} must be an integer >= 1, got {value!r}")
        return int(value)
    if width < SINGLE_THREAD_BELOW_WIDTH:
        return 1
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def configure_threads(width: int, workers: int = 1) -> int:
    """Apply :func:`threads_for` with ``torch.set_num_threads`` and return it."""
    import torch

    n = threads_for(width, workers)
    torch.set_num_threads(n)
    return n
