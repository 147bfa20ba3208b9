"""Approximation 2.1 under test (Dadoun et al. 2025, Section 6.1, Figures 5-6) over ``N`` networks at one input."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from jacstab._checks import PAIRINGS, check_choice, check_int
from jacstab.nets.streams import MAX_SEED, STREAM_STATS, child_seed, default_input
from jacstab.specs import NetSpec
from jacstab.stats._draw import GateDraw, draw_gates
from jacstab.stats.inference import TestResult, activity_binom, chi2_pair, pair_pvalues, pearson, uniformity_ks

MAX_NETWORKS = 10**6
DEFAULT_PAIRS = 50
TESTS = ("chi2_pair", "chi2_pvalues_ks", "activity_binom", "tw_td_pearson")


@dataclass(frozen=True)
class Approx21:
    """The statistics of Approximation 2.1 for ``N`` networks drawn from one spec (see :func:`approx21`).

    Attributes:
        spec, draw (:class:`~jacstab.stats._draw.GateDraw`: ``D_{l-1}``, ``D_l``, ``T_W``), pairing (of ``T_W`` with
        ``T_D``), entries (the 3 entries of ``D_l`` of Fig. 5), pairs (``(P, 2)`` entry pairs), pvalues (their
        chi-squared p-values), p (the gate probability under ``H0``).
    """

    spec: NetSpec
    draw: GateDraw
    pairing: str
    entries: np.ndarray
    pairs: np.ndarray
    pvalues: np.ndarray
    p: float

    @property
    def joint(self) -> np.ndarray:
        """``(N, 3)`` 0/1 values of the three entries of ``D_l`` (Fig. 5)."""
        return self.draw.d_l[:, self.entries].astype(float)

    def pearson(self, pairing: str | None = None) -> TestResult:
        """Pearson test of ``(T_W, T_D)`` for ``pairing`` (default: this result's)."""
        pairing = self.pairing if pairing is None else pairing
        check_choice("pairing", pairing, PAIRINGS)
        return pearson(self.draw.t_w, self.draw.t_d(pairing))

    def tests(self) -> list[TestResult]:
        """``chi2_pair`` (the first pair), ``chi2_pvalues_ks`` (all pairs), ``activity_binom`` (``D_l``) and
        ``tw_td_pearson`` (this pairing)."""
        i, j = self.pairs[0]
        d = self.draw.d_l
        return [chi2_pair(d[:, i], d[:, j]), uniformity_ks(self.pvalues), activity_binom(d, self.p), self.pearson()]

    def rows(self) -> list[dict]:
        """One row per test: ``{test, statistic, p_value, df, n}``."""
        return [t.row() for t in self.tests()]


def _pairs(rng: np.random.Generator, n: int, count: int) -> np.ndarray:
    """``count`` distinct unordered pairs ``i < j`` of ``0..n-1``, uniformly at random."""
    seen: dict[tuple[int, int], None] = {}
    while len(seen) < count:
        i, j = sorted(rng.choice(n, 2, replace=False).tolist())
        seen[(i, j)] = None
    return np.array(list(seen), dtype=int).reshape(-1, 2)


def _check_x(spec: NetSpec, x) -> torch.Tensor:
    d = spec.input_dim
    if not isinstance(x, torch.Tensor) or x.shape != (d,) or not x.is_floating_point():
        raise ValueError(f"x must be a floating torch.Tensor of shape ({d},) (the spec's in_dim), got {x!r:.60}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x must be finite (it contains nan or inf)")
    return x.to(torch.float64, copy=True).cpu()


def _check(spec: NetSpec, networks: int, layer: int, pairs: int, seed0: int) -> None:
    if not isinstance(spec, NetSpec):
        raise TypeError(f"spec must be a NetSpec, got {type(spec).__name__}")
    if spec.activation != "relu" or spec.pruning.active:
        raise ValueError(
            "Approximation 2.1 concerns the 0/1 gates of unpruned ReLU networks: need activation='relu' and no "
            f"pruning, got activation={spec.activation!r}, prune={spec.prune!r}"
        )
    if spec.depth < 2:
        raise ValueError(f"depth must be >= 2 (the layer l is in [1, L-1]), got {spec.depth}")
    check_int("layer", layer, 1, spec.depth - 1)
    check_int("networks", networks, 2, MAX_NETWORKS)
    check_int("pairs", pairs, 1, spec.width * (spec.width - 1) // 2 if spec.width > 1 else 1)
    if spec.width < 2:
        raise ValueError(f"width must be >= 2 (pairs of gate entries), got {spec.width}")
    check_int("seed0", seed0, 0, MAX_SEED - networks + 1)


def approx21(
    spec: NetSpec,
    networks: int = 1000,
    layer: int = 10,
    *,
    pairs: int | None = None,
    pairing: str = "same",
    seed0: int = 0,
    x: torch.Tensor | None = None,
) -> Approx21:
    """Test Approximation 2.1 (``D_l``'s entries iid Bernoulli(1/2), independent of the weights) on the networks
    ``sample(spec, seed0 + i)``, ``i < N``, all at one input ``x`` (Dadoun et al. 2025, Section 6.1).

    * Fig. 5: the joint law of 3 random entries of ``D_l`` (:attr:`Approx21.joint`).
    * ``chi2_pair``: chi-squared independence test of one random pair of entries (``chi^2(1)``).
    * ``chi2_pvalues_ks``: the p-values of ``pairs`` random pairs against Uniform(0, 1) (Kolmogorov-Smirnov).
    * ``activity_binom``: the fraction of open gates of ``D_l`` against ``p`` (exact binomial test; ``p = 1/2``,
      or ``gate_p`` for ``gates='bernoulli'``).
    * ``tw_td_pearson``: Fig. 6's ``T_W = (1/n^2) sum 1{W_l^ij > 0}`` against ``T_D`` (Pearson). ``pairing='same'``
      is the paper's ``(W_l, D_l)``; since ``D_l = 1{W_l phi(Y_{l-1}) > 0}`` is a function of ``W_l``, the two are
      dependent by construction (corr ~ ``2/pi^{3/2} = 0.36`` for iid Gaussian weights, docs/approx21.md).
      ``pairing='factor'`` is ``(W_l, D_{l-1})``, the pair that multiplies in ``J``'s factor ``W_l D_{l-1}``:
      independent for iid weights, and still for the correlated model (``D_{l-1}`` does not see ``W_l``'s shift).

    The ``N`` networks are one batched computation (:func:`~jacstab.stats._draw.draw_gates`); which entries and
    pairs are examined is drawn from ``child_seed(seed0, STREAM_STATS)``.

    Args:
        spec: an unpruned ReLU :class:`~jacstab.NetSpec` (``eta``, ``correlation``, ``gates`` allowed).
        networks: ``N >= 2``; layer: ``l`` in ``[1, L-1]`` (the paper: ``l = 10``, ``L = 30``, ``n = 100``,
        ``N = 1000``); pairs: ``P``, the number of random entry pairs (default ``min(50, n(n-1)/2)``);
        pairing: ``same`` | ``factor``; seed0: the first seed; x: raw input (default the spec's normalised
        input, paper footnote 1).

    Returns:
        An :class:`Approx21` (``rows()``: ``{test, statistic, p_value, df, n}``).

    Raises:
        TypeError: ``spec`` is not a NetSpec. ValueError: a bad option (named, with its range).
    """
    if isinstance(spec, NetSpec) and pairs is None:
        pairs = min(DEFAULT_PAIRS, spec.width * (spec.width - 1) // 2)
    _check(spec, networks, layer, pairs, seed0)
    check_choice("pairing", pairing, PAIRINGS)
    x = default_input(spec.input_dim) if x is None else _check_x(spec, x)
    seeds = range(seed0, seed0 + networks)
    draw = draw_gates(spec, seeds, layer, x)
    rng = np.random.default_rng(child_seed(seed0, STREAM_STATS))
    entries = rng.choice(spec.width, min(3, spec.width), replace=False)
    chosen = _pairs(rng, spec.width, pairs)
    p = spec.gate_p if spec.gates == "bernoulli" else 0.5
    return Approx21(spec, draw, pairing, entries, chosen, pair_pvalues(draw.d_l, chosen), p)
