"""The conditions of the paper's stability theorem (Dadoun et al. 2025, Theorem 3.1) as numbers - numpy only.

Theorem 3.1: with ``M = B o W`` (``b`` bounded by ``beta_n``, ``w`` ``O(1/n)``-subgaussian, ReLU masks
Bernoulli(1/2)), ``||J^B|| -> ||s_1 ... s_L||`` (the iid critical limit) when, as ``n -> inf``,

  (i)   ``beta_n^2 log^4(n) / n -> 0``
  (ii)  ``max_i | 1/2 sum_k E|b_ik w_ik|^2 - 1 | -> 0``
  (iii) ``n max_ij |E b_ij w_ij| -> 0``

and, for jointly Gaussian correlated weights with deterministic ``B`` (A'_1): (i') as (i),
(ii') ``max_i |(2/n) sum_k b_ik^2 - 1| -> 0`` and covariances ``O(n^{-5/2}/log n)`` (Theorem 5.1:
``corr = O(n^{-3/2}/log n)``). These are asymptotic: a small value at one ``n`` explains, it does not promise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

SMALL, BORDER = 0.05, 0.5  # plain-language bands for a quantity that must tend to 0


@dataclass(frozen=True)
class Item:
    """One quantity: its name, the formula, its value, its limit and a plain-language verdict."""

    name: str
    formula: str
    value: float
    must_tend_to: str
    verdict: str


@dataclass(frozen=True)
class Certificate:
    """All the quantities for one network or law, with a one-paragraph summary."""

    items: list[Item] = field(default_factory=list)
    summary: str = ""

    def rows(self) -> list[dict]:
        return [dict(vars(i)) for i in self.items]


def verdict_to_zero(value: float, what: str = "") -> str:
    """Plain-language reading of a quantity that must tend to 0."""
    if not math.isfinite(value):
        return "undefined"
    v = abs(value)
    if v < SMALL:
        return f"small ({v:.3g} < {SMALL}): consistent with the theorem at this width{what}"
    if v < BORDER:
        return f"borderline ({v:.3g}): the asymptotics are only roughly in force at this width{what}"
    return f"not small ({v:.3g}): the theorem gives no guarantee at this width{what}"


def condition_i(beta: float, n: int) -> Item:
    v = beta * beta * math.log(n) ** 4 / n
    return Item("(i)", "beta_n^2 log^4(n) / n", v, "0", verdict_to_zero(v))


def condition_ii(value: float, L: int | None = None, mean: float | None = None, *, mu: float = 0.5) -> Item:
    """``value`` is ``max_i (mu sum_k E|b w|^2) - 1``, signed, with ``mu = E[phi'(z)^2]`` (1/2 for ReLU: the paper's
    condition (ii)). With depth ``L`` the drift of ``log ||J||``, ``(L/2) log(1 + mean)``, is added (``mean``: the
    row average, default ``value``)."""
    extra = ""
    mean = value if mean is None else mean
    if L is not None and mean > -1:
        drift = 0.5 * L * math.log1p(mean)
        extra = f"; expect ||J|| off by a factor ~ e^({drift:.3g}) over {L} layers"
    coef = "1/2" if mu == 0.5 else f"{mu:.4g}"
    return Item("(ii)", f"max_i |{coef} sum_k E|b_ik w_ik|^2 - 1|", abs(value), "0", verdict_to_zero(value, extra))


def condition_iii(value: float) -> Item:
    return Item("(iii)", "n max_ij |E b_ij w_ij|", abs(value), "0", verdict_to_zero(value))


def sparsity_edge(density: float, n: int) -> Item:
    """Theorem 4.1 needs ``1 - s >> log^4(n)/n``: the ratio ``(log^4(n)/n) / (1-s)`` must tend to 0."""
    v = math.log(n) ** 4 / n / density
    note = (
        (
            f"; the edge log^4(n)/n = {math.log(n) ** 4 / n:.3g} exceeds 1 below n ~ 5,500, so the sufficient "
            "condition is vacuous at such widths"
        )
        if math.log(n) ** 4 / n >= 1
        else ""
    )
    return Item("sparsity edge", "(log^4(n)/n) / (1 - s)", v, "0", verdict_to_zero(v, note))


def eta_bound(n: int) -> float:
    """The largest ``eta`` with ``eta^2/(1+eta^2) <= n^{-3/2}/log n`` (Theorem 5.1's correlation scale, constant 1)."""
    c = n**-1.5 / math.log(n)
    return math.sqrt(c / (1 - c))


def correlation_item(corr: float, n: int) -> Item:
    """Theorem 5.1: ``corr * n^{3/2} log n`` must tend to 0."""
    v = corr * n**1.5 * math.log(n)
    return Item(
        "correlation (A'1)",
        "max corr(w_ij, w_ml) * n^(3/2) log n",
        v,
        "0",
        verdict_to_zero(v, f"; the paper's scale corresponds to eta <~ {eta_bound(n):.3g} at n = {n}"),
    )
