"""The paper's growth rates (Dadoun et al. 2025, Theorem 2.2, after Pennington, Schoenholz, Ganguli 2017)."""

from __future__ import annotations

import math


def growth_rate(sigma2: float, density: float = 1.0) -> float:
    """Per-layer slope of ``log ||J||`` for ReLU with ``N(0, sigma2/n)`` weights kept with ``density``:
    ``(1/2) log(density sigma2 / 2)``.

    Theorem 2.2 prints ``||J|| ~ L (sigma2/2)^L``; the squared norm is what grows like ``(sigma2/2)^L`` (each
    layer multiplies ``E ||J u||^2`` by ``sigma2/2``), so ``log ||J||`` grows like ``(L/2) log(sigma2/2)``.
    jacstab's measurements agree with the exponent ``L/2`` (see tests/test_theory.py); the factor ``L`` is likewise
    the growth of ``||J||^2`` at ``sigma2 = 2`` (the free-probability edge ``~ 2 e L``). Unscaled random pruning
    multiplies each layer's second moment by ``density = 1 - s`` (paper: ``||J^B|| ~ (1-s)^{L/2}``).

    ReLU only (``E[phi'^2] = 1/2``); :func:`jacstab.theory.predict` gives the growth of any activation and law and
    is what jacstab's figures, report, certificate and CLI use.
    """
    if not sigma2 > 0 or not 0 < density <= 1:
        raise ValueError(f"need sigma2 > 0 and density in (0, 1], got {sigma2!r}, {density!r}")
    return 0.5 * math.log(density * sigma2 / 2.0)
