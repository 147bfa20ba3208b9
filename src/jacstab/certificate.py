"""``jacstab.certify``: the conditions of Theorem 3.1 for a spec (law) or a sampled network (realised weights)."""

from __future__ import annotations

import dataclasses

import torch

from jacstab.correlation import realised_correlation
from jacstab.nets import Network, sample
from jacstab.specs import NetSpec
from jacstab.theory import certificate as C
from jacstab.theory.predict import law_second_moment, predict
from jacstab.theory.scaling import kept_density

LAW_RULES = ("none", "random", "paper-magnitude", "exact", "empirical")


def _density(spec: NetSpec) -> float:
    return kept_density(
        spec.prune, n=spec.width, sigma2=spec.sigma2, sparsity=spec.sparsity, threshold=spec.threshold, keep=spec.keep
    )


def law_quantities(spec: NetSpec, rule: str | None = None) -> tuple[float, float]:
    """``(beta_n, signed condition (ii))`` for the law of ``spec`` under scaling ``rule`` (default its own).

    ``(ii) = E[phi'^2] n E|b w|^2 - 1`` (:func:`jacstab.theory.predict`; for ReLU, ``E[phi'^2] = 1/2`` gives the
    paper's ``1/2 sum_k E|b_ik w_ik|^2 - 1``). NaN where the law is unknown (SNIP with a law-level rule).
    """
    beta, sigma2_eff = law_second_moment(spec, rule)
    return beta, predict(spec).gates.mean_dphi2 * sigma2_eff - 1.0


def _realised(net: Network) -> tuple[float, float, float, float]:
    """``(beta, signed (ii), (iii), mean row (ii))`` from the realised weights (``b = W^B / W`` against the
    unpruned parent)."""
    spec = net.spec
    if net.provenance.kind == "masked":
        parent = net.provenance.parent
    elif spec.pruning.active:
        parent = sample(spec.unpruned(), net.seed, dtype=net.dtype)
    else:
        parent = net
    beta, ii, iii, mean = 0.0, 0.0, 0.0, 0.0
    mu = predict(spec).gates.mean_dphi2  # E[phi'^2]: 1/2 for ReLU (the paper's factor 1/2)
    for wb, w in zip(net.weights, parent.weights):
        wb = wb.cpu().to(torch.float64)
        w = w.to(torch.float64)
        b = torch.where(w != 0, wb / torch.where(w != 0, w, torch.ones_like(w)), torch.zeros_like(w))
        beta = max(beta, b.abs().max().item())
        rows = mu * (wb * wb).sum(1) - 1.0  # signed, per row; keep the largest in absolute value
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
        from jacstab.engine._masks import check_finite

        spec, realised = obj.spec, _realised(check_finite(obj))
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
    summary = _summary(spec, ii)
    if isinstance(obj, Network) and obj.provenance.kind == "masked":
        summary = f"{obj.provenance.describe()}; parent law: {summary}"
    pred = predict(spec)
    if not pred.theorem_applies:
        summary += f" Note: {pred.note}."
    return C.Certificate(items, summary)


def _realised_structure(net: Network, corr: float) -> list[C.Item]:
    """Realised sparsity and correlation of a sampled network, against their targets."""
    spec, out = net.spec, []
    masked = net.provenance.kind == "masked"
    if spec.prune != "none" or masked:
        kept = sum(int((w != 0).sum()) for w in net.weights) / (net.depth * spec.width**2)
        dens = net.provenance.density
        target = 1 - sum(dens) / len(dens) if masked else 1 - _density(spec)
        out.append(
            C.Item(
                "realised sparsity",
                "fraction of hidden weights equal to 0",
                1 - kept,
                f"target {target:.4g}",
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
