"""Analysis of the spectral metrics (issue 13): finite-depth exponents with the fitted ``1/d`` correction,
separation, and the stored rows of ``log_spectrum_depths`` / ``alignment`` / ``lyapunov_stderr`` per setting.

Paper 002's finite-depth view: ``(1/d) log sigma_i(J^(d)) = lambda_i + b_i / d + o(1/d)``; :func:`fit_finite_depth`
fits ``lambda_i`` and ``b_i`` by least squares on the depths ``d >= d_min``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from jacstab.specs import NetSpec

_ROW_KEYS = {"trial_id", "seed", "status", "error", "metric", "idx", "index", "value", "experiment", "spec_hash"}


@dataclass(frozen=True)
class Setting:
    """One spec's stored values of one metric: ``values[seed]`` (a list of floats per finished seed)."""

    spec: NetSpec
    seeds: tuple[int, ...]
    values: np.ndarray  # (seeds, m)


def settings(rows: Iterable[dict], metric: str) -> list[Setting]:
    """Group long-format store rows (:meth:`jacstab.lab.Store.rows`) of ``metric`` by spec; finished trials only."""
    by: dict[str, dict[int, dict[int, float]]] = {}
    specs: dict[str, NetSpec] = {}
    for r in rows:
        if r.get("metric") != metric or r.get("status") != "done":
            continue
        fields = {k: v for k, v in r.items() if k not in _ROW_KEYS and v is not None}
        key = json.dumps(fields, sort_keys=True, default=str)
        if key not in specs:
            specs[key] = NetSpec.from_dict({k: v for k, v in fields.items() if k in NetSpec.__dataclass_fields__})
        val = r["value"]
        slot = by.setdefault(key, {}).setdefault(r["seed"], {})
        slot[r["index"] - 1] = float("nan") if val is None else float(val)
    out = []
    for key, seeds in by.items():
        ss = sorted(seeds)
        m = max(max(seeds[s]) + 1 for s in ss)
        arr = np.full((len(ss), m), np.nan)
        for i, s in enumerate(ss):
            for j, v in seeds[s].items():
                arr[i, j] = v
        out.append(Setting(specs[key], tuple(ss), arr))
    return out


def fit_finite_depth(depths: np.ndarray, log_s: np.ndarray, d_min: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fit ``(1/d) log sigma_i(J^(d)) = lambda_i + b_i / d`` over ``d >= d_min``.

    Args:
        depths: ``(m,)``; log_s: ``(m, k)`` natural logs (non-finite entries are left out per ``i``).

    Returns:
        ``(lambda, b)``, each ``(k,)`` (NaN where fewer than 2 finite points).
    """
    depths = np.asarray(depths, dtype=float)
    log_s = np.asarray(log_s, dtype=float)
    lam, b = np.full(log_s.shape[1], np.nan), np.full(log_s.shape[1], np.nan)
    for i in range(log_s.shape[1]):
        y = log_s[:, i] / depths
        ok = np.isfinite(y) & (depths >= d_min)
        if ok.sum() >= 2:
            a = np.stack([np.ones(ok.sum()), 1.0 / depths[ok]], 1)
            (lam[i], b[i]), *_ = np.linalg.lstsq(a, y[ok], rcond=None)
    return lam, b


def spectrum_by_depth(s: Setting) -> np.ndarray:
    """``log_spectrum_depths`` values as ``(seeds, L, k)``."""
    depth = s.spec.depth
    return s.values.reshape(len(s.seeds), depth, -1)


def alignment_parts(s: Setting) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``alignment`` values as ``(mean_cos2, gap_head, gap_tail)``, each ``(seeds, L-1)``."""
    m = s.spec.depth - 1
    return s.values[:, :m], s.values[:, m : 2 * m], s.values[:, 2 * m : 3 * m]


def separation(log_s: np.ndarray) -> np.ndarray:
    """Gaps ``log sigma_i - log sigma_{i+1} = -log(sigma_{i+1}/sigma_i)`` along the last axis."""
    return log_s[..., :-1] - log_s[..., 1:]
