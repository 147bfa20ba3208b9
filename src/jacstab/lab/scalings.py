"""Compare the scaling rules of a pruned network by measurement: ``log ||J^(d)||`` vs depth for each rule.

For every scaling rule that applies to the spec's pruning method, sample the network for each seed, take its
depth curve, and summarise over seeds with :mod:`jacstab.lab.analysis` (per-depth mean and sd, growth per layer
with a confidence interval, and which rule is the most stable). No printing: ``jacstab scalings`` prints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jacstab._checks import SCALINGS
from jacstab.lab.analysis import Ranking, Slope, compare_slopes, growth_slope, growth_start, mean_band

COLUMNS = ("scaling", "depth", "log_norm_mean", "log_norm_ci_low", "log_norm_ci_high", "log_norm_sd", "seeds",
           "condition_ii")


def applicable_rules(base: Any) -> list[tuple[str, Any]]:
    """``(rule, spec)`` for every scaling rule the spec's pruning method admits (``base.replace(scaling=rule)``)."""
    if base.prune == "none":
        raise ValueError("comparing scaling rules needs a pruned network: give --prune and --sparsity")
    out = []
    for rule in SCALINGS:
        try:
            out.append((rule, base.replace(scaling=rule)))
        except ValueError:
            continue  # rule not applicable to this pruning method (e.g. paper-magnitude with random pruning)
    return out


@dataclass(frozen=True)
class ScalingsSummary:
    """Growth of ``log ||J||`` per layer for each rule, and their ranking by ``|growth|`` (0 = stable)."""

    slopes: dict[str, Slope]
    ranking: Ranking

    @property
    def most_stable(self) -> str | None:
        return self.ranking.best

    def __str__(self) -> str:
        listing = ", ".join(f"{name} {s.format()}" for name, s in self.ranking.order)
        level = f"{round(100 * self.ranking.level, 6):g}%"
        n = max((s.n_seeds for s in self.slopes.values()), default=0)
        return (
            f"growth of log||J|| per layer (mean of per-seed least-squares slopes over the second half of the depths "
            f"± {level} CI, {n} seed"
            f"{'s' if n != 1 else ''}): {listing}; {self.ranking.summary()}"
        )


@dataclass
class ScalingComparison:
    """Iterate for the rows (one rule at a time, all its depths); :attr:`summary` is set once all are done.

    Args:
        base: a pruned ``jacstab.NetSpec``; its ``scaling`` is replaced by each applicable rule.
        seeds: the seeds to sample for every rule.
        every: report every ``every``-th depth (and the last); the growth always uses every depth of the second
            half (:func:`jacstab.lab.analysis.growth_start`), whatever ``every`` is.
        dtype, device: passed to ``jacstab.sample``.
        advance: called once per sampled network (progress).

    Rows ``{scaling, depth, log_norm_mean, log_norm_ci_low, log_norm_ci_high, log_norm_sd, seeds, condition_ii}``:
    mean, its 95% Student-t interval (the report's convention) and sample sd (ddof 1; NaN with one seed) over the
    seeds with a finite value (``seeds`` counts them; a dead network, ``J = 0``, is not
    averaged), and the law-level ``|condition (ii)|`` of Theorem 3.1 under that rule.
    """

    base: Any
    seeds: Sequence[int]
    every: int = 1
    dtype: Any = None
    device: Any = "cpu"
    advance: Callable[[], None] | None = None
    summary: ScalingsSummary | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise ValueError(f"every must be an integer >= 1, got {self.every!r}")
        if len(self.seeds) < 1:
            raise ValueError("give at least one seed")
        self.rules = applicable_rules(self.base)

    @property
    def depths(self) -> list[int]:
        L = self.base.depth
        return [d for d in range(1, L + 1) if d % self.every == 0 or d == L]

    def curves(self, spec: Any) -> np.ndarray:
        """``(seeds, L)`` natural-log depth curves of ``spec``, one sampled network per seed."""
        from jacstab.engine import depth_curve
        from jacstab.nets import sample

        kwargs = {"device": self.device} if self.dtype is None else {"dtype": self.dtype, "device": self.device}
        out = []
        for seed in self.seeds:
            curve = depth_curve(sample(spec, seed, **kwargs))
            out.append(np.asarray(curve.tolist(), dtype=float))
            if self.advance is not None:
                self.advance()
        return np.stack(out)

    def by_rule(self) -> Iterator[list[dict[str, Any]]]:
        """The rows of one rule at a time (all its reported depths); sets :attr:`summary` after the last."""
        from jacstab.certificate import law_quantities

        slopes: dict[str, Slope] = {}
        for rule, spec in self.rules:
            c = self.curves(spec)
            band, ii = mean_band(c), abs(law_quantities(spec)[1])
            slopes[rule] = (
                growth_slope(c, start=growth_start(spec.depth)) if spec.depth > 1 else Slope.from_seed_slopes([])
            )
            yield [
                {
                    "scaling": rule,
                    "depth": d,
                    "log_norm_mean": float(band.mean[d - 1]),
                    "log_norm_ci_low": float(band.ci_low[d - 1]),
                    "log_norm_ci_high": float(band.ci_high[d - 1]),
                    "log_norm_sd": float(band.sd[d - 1]),
                    "seeds": int(band.n_finite[d - 1]),
                    "condition_ii": ii,
                }
                for d in self.depths
            ]
        self.summary = ScalingsSummary(slopes, compare_slopes(slopes, target=0.0))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for rows in self.by_rule():
            yield from rows


def compare_scalings(base: Any, seeds: Sequence[int], **kwargs: Any) -> ScalingComparison:
    """:class:`ScalingComparison` of ``base`` over ``seeds``; keywords ``every``, ``dtype``, ``device``, ``advance``."""
    return ScalingComparison(base, seeds, **kwargs)
