"""``jacstab.certify``: the conditions of Theorem 3.1 for a spec (law) or a sampled network (realised weights)."""

from __future__ import annotations

import dataclasses
import math

import torch

from jacstab.correlation import realised_correlation
from jacstab.ensembles import Network, sample
from jacstab.specs import NetSpec
from jacstab.theory import certificate as C
from jacstab.theory.scaling import kept_density, scaling_factor, tau_for_density, truncated_second_moment

LAW_RULES = ("none", "random", "paper-magnitude", "exact", "empirical")


def _density(spec: NetSpec) -> float:
    return kept_density(
        spec.prune, n=spec.width, sigma2=spec.sigma2, sparsity=spec.sparsity, threshold=spec.threshold, keep=spec.keep
    )


def law_quantities(spec: NetSpec, rule: str | None = None) -> tuple[float, float]:
    """``(beta_n, signed condition (ii))`` for the law of ``spec`` under scaling ``rule`` (default its own).

    ``(ii) = 1/2 n c^2 E[w^2 1{kept}] - 1 = 1/2 c^2 sigma2 (1 + eta^2) m - 1`` with ``m`` the kept fraction of the
    second moment: ``1 - s`` (random), ``E[N^2 1{|N| > tau}]`` (magnitude); ``empirical`` restores each row's
    realised energy, so ``c^2 m = 1``. NaN where the law is unknown (SNIP with a law-level rule).
    """
    rule = spec.scaling if rule is None else rule
    var = spec.sigma2 * (1.0 + spec.eta**2)
    if spec.prune == "none":
        return 1.0, 0.5 * var - 1.0
    density = _density(spec)
    if spec.prune == "random":
        m = density
    elif spec.prune.startswith("magnitude"):
        m = truncated_second_moment(tau_for_density(density))
    else:
        m = math.nan
    if rule == "empirical":
        c = 1.0 / math.sqrt(m) if math.isfinite(m) else math.nan
        return c, 0.5 * var - 1.0
    method = "magnitude" if spec.prune == "snip" else spec.prune
    c = scaling_factor(
        rule, method, n=spec.width, sigma2=spec.sigma2, sparsity=spec.sparsity, threshold=spec.threshold, keep=spec.keep
    )
    return c, 0.5 * c * c * var * m - 1.0


def _realised(net: Network) -> tuple[float, float, float, float]:
    """``(beta, signed (ii), (iii), mean row (ii))`` from the realised weights (``b = W^B / W`` against the
    unpruned parent)."""
    spec = net.spec
    parent = (
        net
        if spec.prune == "none"
        else sample(
            dataclasses.replace(spec, prune="none", sparsity=0.0, threshold=None, keep=None, scaling="none"),
            net.seed,
            dtype=net.dtype,
        )
    )
    beta, ii, iii, mean = 0.0, 0.0, 0.0, 0.0
    for wb, w in zip(net.weights, parent.weights):
        wb = wb.cpu().to(torch.float64)
        w = w.to(torch.float64)
        b = torch.where(w != 0, wb / torch.where(w != 0, w, torch.ones_like(w)), torch.zeros_like(w))
        beta = max(beta, b.abs().max().item())
        rows = 0.5 * (wb * wb).sum(1) - 1.0  # signed, per row; keep the largest in absolute value
        worst = rows[rows.abs().argmax()].item()
        ii = worst if abs(worst) > abs(ii) else ii
        mean += rows.mean().item() / net.depth
        iii = max(iii, spec.width * abs(wb.mean().item()))
    return beta, ii, iii, mean


def certify(obj: NetSpec | Network) -> C.Certificate:
    """The quantities of Theorem 3.1's conditions, each with its value, its limit and a verdict.

    A :class:`~jacstab.NetSpec` is certified from its law (expectations); a sampled :class:`~jacstab.Network`
    from its realised weights (``b = W^B / W`` against the unpruned parent drawn with the same seed). Also:
    the sparsity edge ``1 - s >> log^4(n)/n`` (Theorem 4.1) and, for correlated weights, Theorem 5.1's
    correlation scale translated to ``eta``. Asymptotic statements: they explain, they do not promise.
    """
    if isinstance(obj, Network):
        spec, realised = obj.spec, _realised(obj)
    elif isinstance(obj, NetSpec):
        spec, realised = obj, None
    else:
        raise TypeError(f"certify takes a NetSpec or a Network, got {type(obj).__name__}")
    n, L = spec.width, spec.depth
    beta, ii = law_quantities(spec)
    iii, mean = 0.0, ii  # every law here is symmetric in sign
    if realised is not None:
        beta, ii, iii, mean = realised
    items = [C.condition_i(beta, n), C.condition_ii(ii, L, mean), C.condition_iii(iii)]
    if spec.prune != "none":
        items.append(C.sparsity_edge(_density(spec), n))
    corr = spec.eta**2 / (1 + spec.eta**2) if spec.eta > 0 else spec.rho
    if corr > 0:
        # (A'1): Gaussian correlated weights with deterministic B; (i') and (ii') have the same formulas here
        items += [
            dataclasses.replace(items[0], name="(i')"),
            dataclasses.replace(
                items[1],
                name="(ii')",
                formula="max_i |(2/n) sum_k b_ik^2 - 1| (with the realised variance sigma2 (1 + eta^2) / n)",
            ),
            C.correlation_item(corr, n),
        ]
    if isinstance(obj, Network):
        items += _realised_structure(obj, corr)
    return C.Certificate(items, _summary(spec, ii))


def _realised_structure(net: Network, corr: float) -> list[C.Item]:
    """Realised sparsity and correlation of a sampled network, against their targets."""
    spec, out = net.spec, []
    if spec.prune != "none":
        kept = sum(int((w != 0).sum()) for w in net.weights) / (net.depth * spec.width**2)
        out.append(
            C.Item(
                "realised sparsity",
                "fraction of hidden weights equal to 0",
                1 - kept,
                f"target {1 - _density(spec):.4g}",
                "measured on the sampled network",
            )
        )
    if corr > 0:
        kind = spec.correlation if spec.correlation != "none" else "none"
        est = realised_correlation(net.weights, kind, spec.eta)
        out.append(
            C.Item(
                "realised correlation",
                f"{kind if kind != 'none' else 'all-pairs (eta)'} correlation pooled over layers",
                est,
                f"target {corr:.4g}",
                "measured on the sampled network",
            )
        )
    return out


def _summary(spec: NetSpec, ii: float) -> str:
    head = "law" if spec.prune == "none" else f"prune={spec.prune}, density={_density(spec):.3g}"
    text = f"{head}, scaling={spec.scaling}, n={spec.width}, L={spec.depth}: condition (ii) = {ii:+.3g}"
    if spec.prune == "none" or spec.prune == "snip":
        return text + ("." if spec.prune == "none" else "; use scaling=empirical for SNIP (law unknown).")
    best = []
    for rule in LAW_RULES:
        try:
            best.append((abs(law_quantities(spec, rule)[1]), rule))
        except ValueError:
            continue
    best.sort()
    ranking = ", ".join(f"{r}: {v:.3g}" for v, r in best)
    return f"{text}. |(ii)| by scaling rule ({ranking}); smallest: {best[0][1]}."
