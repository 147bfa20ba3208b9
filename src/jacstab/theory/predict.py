"""``predict(spec)``: what the theory says about a network's Jacobian, for every activation - numpy/scipy only.

One entry point for plots, the report, ``certify`` and the CLI. For the law of a :class:`jacstab.NetSpec` it gives

* ``sigma2_eff = n E|b w|^2``, the per-row second moment of the hidden matrices (pruning with its scaling ``b``,
  the correlated model's ``1 + eta^2``): :func:`law_second_moment`;
* ``growth_per_layer = (1/2) log(sigma2_eff E[phi'^2])``, the per-layer slope of ``log ||J||`` (Theorem 2.2's
  ``(1/2) log(sigma2/2)`` for any activation; tanh: mean-field ``chi_1`` at the fixed point ``q*``);
* ``condition_ii = E[phi'^2] sigma2_eff - 1``, the signed analogue of condition (ii) of Theorem 3.1 (for ReLU
  exactly the paper's ``1/2 sum_k E|b_ik w_ik|^2 - 1``);
* ``log_norm[d-1]``, the predicted ``log ||J^(d)||`` as ``n -> inf`` (half the log of the free-probability edge
  of ``J J^T``) for ``d = 1..L``, where free probability applies: orthogonally invariant weights and gates whose
  square ``D^2`` has a two-atom law (relu, leaky_relu, linear, abs).

Where a quantity does not apply it is ``NaN``/``None`` with a reason: a prediction is never silently wrong.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import jacstab.theory.free as free
from jacstab.theory.gaussian import GaussianConstants, gaussian_constants, tanh_fixed_point
from jacstab.theory.isometry import SOURCE as ISOMETRY
from jacstab.theory.isometry import isometric_curve, orthogonal_jacobian, reflection_reason
from jacstab.theory.law import density as _density
from jacstab.theory.law import law_reason as _law_reason
from jacstab.theory.law import law_second_moment
from jacstab.theory.residual import residual_growth

PAPER = "Dadoun, Hayou, Salam, Seddik, Youssef 2025"
PSG = "Pennington, Schoenholz, Ganguli 2017 (arXiv:1711.04735) and 2018 (arXiv:1802.09979)"
RESIDUAL = "Borkar 2026 (paper 004); exact finite-n linear exponent: jacstab.theory.residual"
MEAN_FIELD = "Poole et al. 2016 (arXiv:1606.05340), Schoenholz et al. 2017 (arXiv:1611.01232)"
_FIELDS = ("width", "depth", "activation", "slope", "sigma2", "init", "prune", "sparsity", "threshold", "keep",
           "scaling", "eta", "correlation", "rho")  # fmt: skip; residual (alpha) is read when present
_CORRELATED_GROWTH = (
    "no prediction: correlated weights add a shared (eta: rank-one; row/col: one per row/column) or structured "
    "component that drives ||J|| beyond the per-entry second moment; Theorem 5.1 only says ||J|| matches the iid "
    "net when corr = O(n^{-3/2}/log n); for the paper's eta model, jacstab.theory.correlated_prediction gives the "
    "median of ||J||^2/||J_iid||^2 and P(J = 0) from the exact gate process (docs/approx21.md)"
)
MAX_EDGE_DEPTH = 100_000  # the log_norm curve has one entry (one edge computation) per depth
CRITICAL_DRIFT = 1.0  # |growth| * depth below this (less than a factor e over the net): "critical"


@dataclass(frozen=True)
class Prediction:
    """The theory's predictions for one law (see the module docstring for the formulas).

    Attributes:
        spec: the :class:`jacstab.NetSpec` predicted.
        gates: the Gaussian constants of the gate ``D = diag(phi')`` (tanh: at the fixed point ``q*``).
        beta: the scaling factor ``c`` of the kept weights (the bound ``beta_n`` of Theorem 3.1; 1 unpruned).
        sigma2_eff: ``n E|b w|^2`` of the hidden matrices (``NaN``: law unknown, see ``law_reason``).
        growth_per_layer: ``(1/2) log(sigma2_eff E[phi'^2])``, natural log per layer (``NaN``: see
            ``growth_reason``); growth_kind: how it is derived.
        condition_ii: ``E[phi'^2] sigma2_eff - 1`` (signed).
        theorem_applies: whether Theorem 3.1 covers this law (ReLU, iid or weakly correlated Gaussian-like weights).
        note: one line on what ``condition_ii`` means here.
        log_norm: ``(depth,)`` read-only array of predicted ``log ||J^(d)||``, ``d = 1..L`` (``n -> inf``), or
            ``None`` (then ``edge_reason`` says why, starting "no prediction: ").
        kind: the model behind ``log_norm``; source: papers and equations.
        q_star: tanh's mean-field fixed point (``None`` for homogeneous activations).
        isometry: why ``J`` is exactly orthogonal for every draw (all singular values 1, paper 003), else ``""``
            (:func:`jacstab.theory.isometry.orthogonal_jacobian`).
    """

    spec: Any
    gates: GaussianConstants
    beta: float
    sigma2_eff: float
    law_reason: str
    growth_per_layer: float
    growth_kind: str
    growth_reason: str
    condition_ii: float
    theorem_applies: bool
    note: str
    log_norm: np.ndarray | None = field(compare=False, repr=False)
    edge_reason: str
    kind: str
    source: str
    q_star: float | None = None
    isometry: str = ""

    @property
    def regime(self) -> str:
        """``explodes`` | ``vanishes`` | ``critical`` (``|growth| L < 1``) | ``unknown`` (no growth)."""
        g = self.growth_per_layer
        if math.isnan(g):
            return "unknown"
        if abs(g) * self.spec.depth < CRITICAL_DRIFT:
            return "critical"
        return "explodes" if g > 0 else "vanishes"

    def rows(self) -> list[dict]:
        """One row per quantity: ``quantity, value, formula, source, note``; ``value`` is ``None`` where the
        theory gives nothing (``note`` says why)."""
        last = None if self.log_norm is None else float(self.log_norm[-1])
        thm = PAPER + ", Thm 3.1 (ii)"
        table = (
            ("sigma2_eff", self.sigma2_eff, "n E|b w|^2 = c^2 sigma2 (1 + eta^2) m", thm, self.law_reason),
            ("mean_dphi2", self.gates.mean_dphi2, "E[phi'(z)^2], z ~ N(0, q)", MEAN_FIELD, _q_note(self)),
            ("growth_per_layer", self.growth_per_layer, _growth_formula(self.spec),
             RESIDUAL if _residual(self.spec) else PAPER + ", Thm 2.2 (generalised)",
             self.growth_reason or f"{self.growth_kind}; {self.regime}"),
            ("condition_ii", self.condition_ii, "E[phi'^2] sigma2_eff - 1", thm, self.law_reason or self.note),
            (f"log_norm(L={self.spec.depth})", last, "(1/2) log edge of J J^T, n -> inf", self.source,
             self.edge_reason or self.kind),
            ("all_singular_values_1", 1.0 if self.isometry else None, "J^T J = I", ISOMETRY,
             self.isometry or "no prediction: J is not exactly orthogonal for this law"),
        )  # fmt: skip
        keys = ("quantity", "value", "formula", "source", "note")
        return [dict(zip(keys, (q, _number(v), *rest))) for q, v, *rest in table]

    def describe(self) -> str:
        """A plain-language summary (several short lines)."""
        s = self.spec
        head = f"{s.activation}, {s.init} init, n={s.width}, L={s.depth}, sigma2={s.sigma2:g}"
        if s.prune != "none":
            head += f", prune={s.prune} (scaling={s.scaling})"
        if _fixed_gates(s) is not None:
            head += f", fixed Bernoulli({s.gate_p:g}) gates"
        lines = [head + ":", f"  n E|bw|^2 = {self.sigma2_eff:.4g}; E[phi'^2] = {self.gates.mean_dphi2:.4g}"]
        if math.isnan(self.growth_per_layer):
            lines.append(f"  growth of log||J|| per layer: {self.growth_reason}")
        else:
            lines.append(
                f"  log||J|| changes by {self.growth_per_layer:+.4g} per layer ({self.regime}; {self.growth_kind})"
            )
        if self.log_norm is None:
            lines.append(f"  ||J^(L)||: {self.edge_reason}")
        else:
            where = "exact at every n" if self.isometry else "n -> inf"
            lines.append(f"  predicted log||J^(L)|| = {self.log_norm[-1]:.4g} ({where}; {self.kind})")
        ii = "unknown (law unknown)" if math.isnan(self.condition_ii) else f"{self.condition_ii:+.3g}"
        ii = "not applicable (residual)" if _residual(s) else ii
        lines.append(f"  condition (ii) = {ii}: {self.note}")
        lines += [f"  orthogonal Jacobian: {self.isometry}"] if self.isometry else []
        return "\n".join(lines)


def _growth_formula(spec: Any) -> str:
    if orthogonal_jacobian(spec) or reflection_reason(spec):
        return "0 (J orthogonal)" if orthogonal_jacobian(spec) else "none (reflection block)"
    if _residual(spec):
        return "(1/2) log(1 + alpha^2 sigma2_eff E[phi'^2])"
    return "(1/2) log(sigma2_eff E[phi'^2])"


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _q_note(p: Prediction) -> str:
    if p.q_star is not None:
        return f"tanh at the mean-field fixed point q* = {p.q_star:.4g}"
    return "exact at every q (positively homogeneous activation)"


# --- gates, growth, condition (ii) -----------------------------------------------------------------------------


def _unsupported(spec: Any) -> str:
    """Combinations this module does not model: residual blocks with fixed Bernoulli gates; reflection blocks
    other than the exactly orthogonal ones."""
    if getattr(spec, "residual", 0) and getattr(spec, "gates", "forward") != "forward":
        return "no prediction: residual networks with fixed Bernoulli gates are not covered by predict"
    return reflection_reason(spec)


def _fixed_gates(spec: Any) -> float | None:
    """``gate_p`` for the fixed-gates model (``gates='bernoulli'``), else None."""
    return spec.gate_p if getattr(spec, "gates", "forward") == "bernoulli" else None


def _residual(spec: Any) -> bool:  # residual (paper 004) or reflection (paper 003) blocks: I + (...)
    return bool(getattr(spec, "residual", 0)) or getattr(spec, "block", "dense") == "reflection"


def _correlated(spec: Any) -> bool:
    return spec.eta > 0 or spec.correlation != "none"


def gate_constants(spec: Any, sigma2_eff: float) -> tuple[GaussianConstants, float | None]:
    """Gate constants; tanh at the mean-field fixed point ``q*`` of ``q = sigma2_eff E[tanh^2]`` (q0 when unknown)."""
    p = _fixed_gates(spec)
    if p is not None:  # Approximation 2.1 exactly: D's entries iid Bernoulli(p), whatever the pre-activations
        relu = gaussian_constants("relu", spec.slope, spec.sigma2)
        return dataclasses.replace(relu, p_active=p, mean_dphi2=p, atoms=((1.0, p), (0.0, 1.0 - p))), None
    if spec.activation != "tanh":
        return gaussian_constants(spec.activation, spec.slope, spec.sigma2), None
    q_star = tanh_fixed_point(sigma2_eff) if math.isfinite(sigma2_eff) else spec.sigma2
    return gaussian_constants("tanh", spec.slope, q_star), q_star


def _growth(spec: Any, sigma2_eff: float, gates: GaussianConstants) -> tuple[float, str, str]:
    """``(growth_per_layer, growth_kind, growth_reason)``."""
    if _unsupported(spec):
        return math.nan, "", _unsupported(spec)
    if math.isnan(sigma2_eff):
        return math.nan, "", _law_reason(spec, sigma2_eff)
    if _correlated(spec):
        return math.nan, "", _CORRELATED_GROWTH
    if _residual(spec):
        return residual_growth(spec, sigma2_eff, gates.mean_dphi2)
    growth = 0.5 * math.log(sigma2_eff * gates.mean_dphi2)
    if _fixed_gates(spec) is not None:
        return growth, (
            "fixed Bernoulli(p) gates: (1/2) log(c p) as n -> inf; at finite n the exact binomial mixture "
            "jacstab.theory.masked_lyapunov (docs/approx21.md)"
        ), ""
    if spec.activation == "tanh":
        return growth, f"mean-field chi_1 = sigma2_eff E[tanh'^2] at q* = {gates.q:.4g}, the large-depth slope", ""
    return growth, "second moment E||W D u||^2 = sigma2_eff E[phi'^2] ||u||^2 per layer (n -> inf)", ""


def _theorem(spec: Any) -> tuple[bool, str]:
    """``(theorem_applies, note)`` for condition (ii)."""
    if _residual(spec):
        return False, ("Theorem 3.1 is for the plain MLP; residual products I + alpha W D are covered by paper 004, "
                       "reflections I - 2 W^T D W by paper 003")
    if spec.activation != "relu":
        return False, (
            f"Theorem 3.1 is stated for ReLU masks; for {spec.activation} the second-moment analogue "
            "E[phi'^2] sigma2_eff - 1 is reported and the theorem itself gives no guarantee"
        )
    if spec.init != "gaussian":
        return False, "Theorem 3.1 assumes iid (or jointly Gaussian) entries; Haar orthogonal weights are not covered"
    if spec.prune == "snip":
        return False, "SNIP masks depend on data and on all the weights: (A1)-iii (independence) fails"
    if _correlated(spec):
        n, corr = spec.width, spec.eta**2 / (1 + spec.eta**2) if spec.eta > 0 else spec.rho
        scale = n**-1.5 / math.log(n) if n > 1 else math.inf
        if corr > scale:
            return False, (
                f"correlation {corr:.3g} exceeds Theorem 5.1's scale n^(-3/2)/log n = {scale:.3g} (constant 1): "
                "(A'1) fails and the theorem gives no guarantee"
            )
        return True, "Theorem 3.1 under (A'1) (Theorem 5.1): (ii') -> 0 gives E||J|| -> the iid critical limit"
    return True, (
        "Theorem 3.1 covers this law: (i)-(iii) -> 0 give ||J|| -> the iid critical limit (asymptotic in n); "
        "a nonzero (ii) shows as the drift (1/2) log(1 + (ii)) of log||J|| per layer"
    )


# --- the free-probability edge ---------------------------------------------------------------------------------


def _no_edge_reason(spec: Any, sigma2_eff: float) -> str:
    """Why free probability gives no edge for this law ("" when it does)."""
    if _unsupported(spec):
        return _unsupported(spec)
    if _residual(spec):
        return (
            "no prediction: the free-probability edge is derived for products W D; for a residual product only "
            "the top exponent (growth_per_layer) is predicted"
        )
    if math.isnan(sigma2_eff):
        return _law_reason(spec, sigma2_eff)
    if _correlated(spec):
        return (
            "no prediction: correlated weights are not orthogonally invariant (eta adds a shared rank-one "
            "component, row/col/ar1 a structured covariance), so the S-transform product does not apply"
        )
    if spec.activation == "tanh":
        return (
            "no prediction: the tanh gate D = diag(1 - tanh^2) is not a two-valued projection and its law "
            "changes with depth (q_k); only the mean-field growth is given"
        )
    if spec.prune in ("magnitude", "magnitude-threshold", "snip"):
        return (
            f"no prediction: {spec.prune} pruning keeps weights by their size (or saliency), so the pruned "
            "matrix is not orthogonally invariant; the S-transform product does not apply"
        )
    if spec.prune != "none" and spec.init != "gaussian":
        return (
            "no prediction: a randomly pruned Haar orthogonal matrix is not orthogonally invariant (its "
            "singular values are no longer all equal to the gain)"
        )
    return ""


def _layer_edge(spec: Any, sigma2_eff: float):
    """``d -> log edge(J^(d) J^(d)T)`` and a one-line description of the model."""
    act, init = spec.activation, spec.init
    w = "Gaussian" if init == "gaussian" else "Haar orthogonal"
    if act == "half_relu":  # D a Bernoulli(3/4) projection (ReLU on half the units)
        return (lambda d: free.log_spectral_edge(d, 0.75, sigma2_eff, init)), (
            f"free-probability edge: {w} weights, Bernoulli(3/4) projection gates (ReLU on half the units)")
    if act == "relu":
        p = _fixed_gates(spec)
        gates = "fixed Bernoulli(p) gates (exactly the model)" if p is not None else "Bernoulli(1/2) projection gates"
        p = 0.5 if p is None else p
        return (lambda d: free.log_spectral_edge(d, p, sigma2_eff, init)), (
            f"free-probability edge: {w} weights, {gates} (Approximation 2.1)"
        )
    if act in ("linear", "abs", "groupsort"):
        extra = f"; {act}: D is orthogonal (signed permutation), so the law equals linear's" if act != "linear" else ""
        fc = " (the Fuss-Catalan law scaled by sigma2_eff^d)" if init == "gaussian" else ""
        return (lambda d: free.log_spectral_edge(d, 1.0, sigma2_eff, init)), (
            f"free-probability edge: product of {w} matrices{fc}{extra}"
        )
    b = spec.slope**2
    return (lambda d: free.log_spectral_edge_two_atom(d, 0.5, b, sigma2_eff, init)), (
        f"free-probability edge: {w} weights, gates with D^2 in {{1, slope^2}} w.p. 1/2 each"
    )


def _edge(spec: Any, sigma2_eff: float) -> tuple[np.ndarray | None, str, str]:
    """``(log_norm, edge_reason, kind)``."""
    why = _no_edge_reason(spec, sigma2_eff)
    if not why and spec.depth > MAX_EDGE_DEPTH:
        why = (f"no prediction: the per-depth edge is computed up to depth {MAX_EDGE_DEPTH:,} (one root solve per "
               f"depth), got {spec.depth:,}; jacstab.theory.log_spectral_edge(L, ...) gives any single depth")
    if why:
        return None, why, "none"
    edge, kind = _layer_edge(spec, sigma2_eff)
    if spec.prune == "random":
        kind += (
            f"; random pruning: iid entries of variance sigma2_eff/n, the same edge as n -> inf at fixed "
            f"density 1 - s = {_density(spec):.3g} (universality)"
        )
    out = 0.5 * np.array([edge(d) for d in range(1, spec.depth + 1)])
    out.flags.writeable = False
    return out, "", kind


def _source(spec: Any, has_edge: bool) -> str:
    parts = [f"{PAPER}: Theorem 2.2 (growth), Theorem 3.1 (condition (ii))"]
    if has_edge:
        parts.append(f"free multiplicative convolution of S-transforms, {PSG}")
        if spec.activation in ("linear", "abs") and spec.init == "gaussian":
            parts.append("Fuss-Catalan edge (L+1)^(L+1)/L^L: Penson, Zyczkowski 2011 (arXiv:1103.3453)")
    if spec.activation == "tanh":
        parts.append(f"mean-field variance map and chi_1: {MEAN_FIELD}")
    return "; ".join(parts)


def predict(spec: Any) -> Prediction:
    """The law-level predictions for the Jacobian ``J = W_L D_{L-1} ... W_1 D_0`` of ``spec``'s network.

    .. math::
        \\sigma^2_{eff} = n\\mathbb{E}|bw|^2,\\quad
        g = \\tfrac12\\log\\big(\\sigma^2_{eff}\\,\\mathbb{E}[\\phi'(z)^2]\\big),\\quad
        (ii) = \\mathbb{E}[\\phi'(z)^2]\\,\\sigma^2_{eff} - 1,\\quad
        \\log\\|J^{(d)}\\| \\to \\tfrac12 \\log \\Big(1 / \\max_{z>0} \\frac{z\\,S_{J^{(d)}J^{(d)T}}(z)}{1+z}\\Big)

    with ``S_{JJ^T} = (S_{W^TW} S_{D^2})^d``, ``S_{W^TW} = 1/(sigma2_eff (1+z))`` (Gaussian) or ``1/sigma2``
    (orthogonal), and ``S_{D^2}`` of the gate law: Bernoulli(1/2) for relu (Bernoulli(gate_p) with
    ``gates="bernoulli"``), ``{1, a^2}`` w.p. 1/2 for leaky_relu,
    the identity for linear and abs.

    Args:
        spec: a :class:`jacstab.NetSpec` (flat attributes ``width, depth, activation, slope, sigma2, init,
            prune, sparsity, threshold, keep, scaling, eta, correlation, rho``).

    Returns:
        A :class:`Prediction`; quantities that do not apply are ``NaN``/``None`` with a reason.

    Raises:
        TypeError: ``spec`` lacks the NetSpec attributes.

    References:
        Dadoun et al. 2025, Theorems 2.2, 3.1, 4.1-4.3, 5.1; Pennington, Schoenholz, Ganguli 2017,
        arXiv:1711.04735 (S-transforms of the layers), 2018, arXiv:1802.09979; Poole et al. 2016, arXiv:1606.05340;
        Schoenholz et al. 2017, arXiv:1611.01232.

    Example:
        >>> import jacstab
        >>> p = jacstab.theory.predict(jacstab.NetSpec(width=256, depth=100, activation="linear", sigma2=1.0))
        >>> round(p.growth_per_layer, 12), round(p.condition_ii, 12), round(float(p.log_norm[-1]), 3)
        (0.0, 0.0, 2.805)
    """
    missing = [f for f in _FIELDS if not hasattr(spec, f)]
    if missing:
        raise TypeError(f"predict takes a jacstab.NetSpec; {type(spec).__name__} lacks {', '.join(missing)}")
    beta, sigma2_eff = law_second_moment(spec)
    gates, q_star = gate_constants(spec, sigma2_eff)
    applies, note = _theorem(spec)
    iso = orthogonal_jacobian(spec)  # exact at every width and depth (paper 003), not only as n -> inf
    growth, growth_kind, growth_reason = (0.0, iso, "") if iso else _growth(spec, sigma2_eff, gates)
    log_norm, edge_reason, kind = (isometric_curve(spec.depth), "", iso) if iso else _edge(spec, sigma2_eff)
    return Prediction(
        spec=spec, gates=gates, beta=beta, sigma2_eff=sigma2_eff, law_reason=_law_reason(spec, sigma2_eff),
        growth_per_layer=growth, growth_kind=growth_kind, growth_reason=growth_reason,
        condition_ii=math.nan if _residual(spec) else gates.mean_dphi2 * sigma2_eff - 1.0,
        theorem_applies=applies, note=note, log_norm=log_norm, edge_reason=edge_reason, kind=kind,
        source=_source(spec, log_norm is not None) + (f"; {ISOMETRY}" if iso else ""), q_star=q_star, isometry=iso,
    )
