"""``jacstab.certify``: the conditions of Theorem 3.1 for a spec (law) or a sampled network (realised weights)."""

from __future__ import annotations

import dataclasses

import torch

from jacstab.correlation import realised_correlation
from jacstab.nets import Network, sample
from jacstab.specs import SCALINGS, NetSpec
from jacstab.theory import certificate as C
from jacstab.theory.law import density as _density
from jacstab.theory.predict import gate_constants, law_second_moment, predict

LAW_RULES = SCALINGS  # every scaling rule, compared at the law level by the summary


def law_quantities(spec: NetSpec, rule: str | None = None) -> tuple[float, float]:
    """``(beta_n, signed condition (ii))`` for the law of ``spec`` under scaling ``rule`` (default its own).

    ``(ii) = E[phi'^2] n E|b w|^2 - 1`` (:func:`jacstab.theory.predict`; for ReLU, ``E[phi'^2] = 1/2`` gives the
    paper's ``1/2 sum_k E|b_ik w_ik|^2 - 1``). NaN where the law is unknown (SNIP with a law-level rule).
    """
    beta, sigma2_eff = law_second_moment(spec, rule)
    return beta, gate_constants(spec, sigma2_eff)[0].mean_dphi2 * sigma2_eff - 1.0  # no edge curve needed


def _realised(net: Network) -> tuple[float, float, float, float]:
    """``(beta, signed (ii), (iii), mean row (ii))`` from the realised weights (``b = W^B / W`` against the
    unpruned parent)."""
    spec = net.spec
    if net.provenance.kind != "sampled":  # masked or modified: measured against the network it came from
        parent = net.provenance.parent
    elif spec.pruning.active:
        parent = sample(spec.unpruned(), net.seed, dtype=net.dtype)
    else:
        parent = net
    beta, ii, iii, mean = 0.0, 0.0, 0.0, 0.0
    mu = gate_constants(spec, law_second_moment(spec)[1])[0].mean_dphi2  # E[phi'^2]: 1/2 for ReLU (the paper's)
    for wb, w in zip(net.weights, parent.weights):
        wb = wb.cpu().to(torch.float64)
        w = w.cpu().to(torch.float64)
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

    Condition (ii) is the second moment ``E[phi'^2] sum_k E|b w|^2 - 1`` (:func:`jacstab.theory.predict`): for
    ReLU exactly the paper's; for other activations and laws outside the theorem the verdict says so.

    Args:
        obj: a :class:`~jacstab.NetSpec` (law) or a :class:`~jacstab.Network` (realised weights; a network masked
            or modified after sampling is measured against the network it came from).

    Returns:
        A :class:`~jacstab.theory.certificate.Certificate` (``.items``, ``.rows()``, ``.summary``).

    Raises:
        TypeError: ``obj`` is neither. ValueError: non-finite weights.

    References:
        Dadoun, Hayou, Salam, Seddik, Youssef 2025, Theorems 3.1, 4.1-4.3, 5.1.
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
    pred = predict(spec)
    covered = pred.theorem_applies
    items = [C.condition_i(beta, n), C.condition_ii(ii, L, mean, mu=pred.gates.mean_dphi2), C.condition_iii(iii)]
    prov = obj.provenance if isinstance(obj, Network) else None
    if prov is not None and prov.kind == "masked":
        items.append(C.sparsity_edge(sum(prov.density) / len(prov.density), n))  # the masks' realised density
    elif spec.prune != "none":
        items.append(C.sparsity_edge(_density(spec), n))
    corr = spec.correlation_model.pair_correlation
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
    if prov is not None and prov.kind != "sampled":
        summary = (f"{prov.describe()}: realised condition (ii) = {ii:+.3g} (the spec describes the parent, "
                   f"not this network)")
    else:
        summary = _summary(spec, ii, "realised" if prov is not None else "law")
    if pred.isometry:  # paper 003; said in the summary only: the items are the stored `certificate` metric's values
        summary += f" Orthogonal Jacobian ({pred.isometry})."
    if not covered:
        summary += f" Note: {pred.note}."
        items = [dataclasses.replace(i, verdict=f"Theorem 3.1 does not cover this law (no guarantee); value: "
                                     f"{i.verdict.replace('consistent with the theorem', 'small')}")
                 if i.name.startswith("(") else i for i in items]
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
                f"1 - mask density = {target:.4g} (plus the parent's zeros)" if masked else f"target {target:.4g}",
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


def _summary(spec: NetSpec, ii: float, what: str) -> str:
    head = what if spec.prune == "none" else f"{what}: prune={spec.prune}, density={_density(spec):.3g}"
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
