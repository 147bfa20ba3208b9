"""The log-domain QR chain: Lyapunov exponents (with their per-layer terms) and every log singular value.

One chain through the layers' factors ``F_d`` (``W_d D_{d-1}`` restricted to active units, or ``I + alpha W_d D_{d-1}``
for a residual block): ``F_d Q_{d-1} = Q_d R_d`` (reduced QR). Two uses:

* **Lyapunov** (Benettin et al. 1980): ``Q_0`` a Haar-random ``|a_0| x k`` frame; ``log |R_d[i, i]|`` is the
  one-layer growth of the ``i``-th direction; their mean over ``d`` is the finite-depth exponent ``lambda_i``.
* **All singular values** (``Q_0 = I``): ``J^(d)[:, a_0] = Q_d T_d`` with ``T_d = R_d ... R_1`` upper trapezoidal,
  so ``sigma_i(J^(d)) = sigma_i(T_d)``. ``T_d`` is a *graded* matrix (row ``i`` grows like ``e^{d lambda_i}``; at
  depth 10^4 the ratio ``sigma_1 / sigma_n`` is far beyond 1e300), so it is kept row-scaled in the log domain,
  ``T_d = diag(e^{ell}) X`` with unit rows ``X``, and updated with ``R_d`` without forming any number beyond the
  float range (:func:`_absorb`). Its singular values then come from a one-sided (Hestenes) Jacobi SVD acting on
  the rows, in the same log-scaled form (:func:`jacobi_rows`): Jacobi rotations are invariant under row scaling
  and compute the singular values of ``diag(e^{ell}) X`` to relative accuracy ``O(eps kappa(X))`` whatever the
  grading (Demmel and Veselic 1992, "Jacobi's method is more accurate than QR", SIAM J. Matrix Anal. Appl.
  13(4), Theorem 4.2), where a bidiagonalising SVD of the formed product resolves only values above
  ``eps sigma_1``. The chain itself is backward stable row by row (Householder QR), so a value ``e^{-3000}``
  comes out with ~1e-10 relative error instead of 0 (tests/test_spectral.py checks it against mpmath).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from jacstab.nets.layers import Gate
from jacstab.nets.network import Network

JACOBI_MAX_SWEEPS = 60  # one-sided Jacobi converges quadratically: ~6-12 sweeps in practice


def chain_factors(net: Network, gates: list[Gate], depth: int) -> Iterable[tuple[int, torch.Tensor, Gate | None]]:
    """Yield ``(d, F_d with all rows, support of the next layer's input or None at the last depth)``.

    ``F_d`` has the columns of the support of ``D_{d-1}`` (:meth:`Network.supports`) and all ``n`` rows; the
    caller restricts the rows to the next support (the next factor is zero outside it).
    """
    sup = net.supports(gates)
    for d in range(1, depth + 1):
        yield d, net.layers[d - 1].factor(gates[d - 1], None), (sup[d] if d < depth else None)


@dataclass(frozen=True)
class LyapunovChain:
    """What a Benettin pass returns: ``log_r`` (``depth x k`` float64, CPU: ``log |R_d[i,i]|`` in frame order),
    ``frame`` (``n x k``: the final ``Q_L``, in the full output space) and ``rank`` (``min_d`` support size)."""

    log_r: torch.Tensor
    frame: torch.Tensor
    rank: int


def lyapunov_chain(net: Network, gates: list[Gate], k: int, generator: torch.Generator) -> LyapunovChain:
    """Benettin's QR chain with a Haar-random ``|a_0| x min(k, rank)`` initial frame (see module docstring)."""
    sup = net.supports(gates)
    rank = min(s.size for s in sup)
    ke = min(k, rank)
    depth = len(gates)
    if ke == 0:
        return LyapunovChain(torch.empty(depth, 0, dtype=torch.float64), net.weights[0].new_zeros(net.width, 0), 0)
    z = torch.randn(sup[0].size, ke, generator=generator, dtype=torch.float64).to(net.weights[0])
    q, _ = torch.linalg.qr(z)
    logs = []
    for d in range(1, depth + 1):
        blk = net.layers[d - 1].factor(gates[d - 1], sup[d] if d < depth else None)
        q, r = torch.linalg.qr(blk @ q)
        logs.append(torch.log(torch.abs(torch.diagonal(r))))
    return LyapunovChain(torch.stack(logs).to(device="cpu", dtype=torch.float64), q, rank)


def _absorb(ell: torch.Tensor, x: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``diag(e^{ell'}) X' = R diag(e^{ell}) X`` for upper-trapezoidal ``R`` (``r' x r``), in the log domain.

    Row ``i`` of the product is ``sum_{j >= i} R_ij e^{ell_j} x_j``; with ``m_i = max_{j >= i} ell_j`` every
    coefficient ``R_ij e^{ell_j - m_i}`` is at most ``|R_ij|`` (no overflow; what underflows is below ``eps`` of the
    row), then ``ell'_i = m_i + log ||row||`` and the row is normalised. Exact zero rows get ``ell = -inf``.
    """
    m = torch.flip(torch.cummax(torch.flip(ell, (0,)), 0).values, (0,))[: r.shape[0]]
    finite = torch.isfinite(m)
    mm = torch.where(finite, m, torch.zeros_like(m))
    upper = torch.ones_like(r, dtype=torch.bool).triu()
    expo = torch.where(upper & finite[:, None], ell[None, :] - mm[:, None], torch.full_like(r, -math.inf))
    c = torch.where(upper, r, torch.zeros_like(r)) * torch.exp(expo)
    y = c @ x
    nrm = torch.linalg.vector_norm(y, dim=1)
    ok = nrm > 0
    safe = torch.where(ok, nrm, torch.ones_like(nrm))
    ell_new = torch.where(ok, mm + torch.log(safe), torch.full_like(nrm, -math.inf))
    return ell_new, y / safe[:, None]


def _schedule(r: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Round-robin (tournament) pairs of ``0..r-1``: ``r - 1`` rounds (``r`` even) of ``r/2`` disjoint pairs, every
    pair once per sweep (a dummy index ``r`` pads odd ``r`` and is dropped)."""
    m = r + (r % 2)
    idx = list(range(m))
    rounds = []
    for _ in range(m - 1):
        pairs = [(idx[i], idx[m - 1 - i]) for i in range(m // 2)]
        pairs = [(a, b) for a, b in pairs if a < r and b < r]
        rounds.append((torch.tensor([a for a, _ in pairs]), torch.tensor([b for _, b in pairs])))
        idx = [idx[0], idx[-1], *idx[1:-1]]
    return rounds


@dataclass(frozen=True)
class JacobiResult:
    """``log_s`` (descending, ``-inf`` for exact zeros), ``left`` (``r x r``: column ``i`` is the left singular
    vector of ``diag(e^ell) X`` for ``log_s[i]``), ``right`` (``r x m``: row ``i`` its right singular vector),
    ``sweeps`` and ``converged``."""

    log_s: torch.Tensor
    left: torch.Tensor
    right: torch.Tensor
    sweeps: int
    converged: bool


def jacobi_rows(ell: torch.Tensor, x: torch.Tensor, *, tol: float | None = None) -> JacobiResult:
    """SVD of ``A = diag(e^{ell}) X`` (``r x m``, ``r <= m``) by one-sided Jacobi on its rows, in the log domain.

    Rows ``a_p = e^{ell_p} x_p`` and ``a_q`` (``ell_p >= ell_q``, ratio ``rho = e^{ell_q - ell_p} <= 1``) are rotated,
    ``a_p' = c a_p - s a_q``, ``a_q' = s a_p + c a_q`` with ``t = s/c`` the small root of ``t^2 + 2 zeta t - 1 = 0``,
    ``zeta = (||a_q||^2 - ||a_p||^2) / (2 a_p.a_q)`` (Hestenes 1958), until every pair has cosine
    ``|a_p.a_q| / (||a_p|| ||a_q||) <= tol`` (default ``4 eps sqrt(m)``). Everything is computed from ``rho``,
    ``x_p``, ``x_q``: with ``zeta' = rho zeta = (rho^2 ||x_q||^2 - ||x_p||^2) / (2 x_p.x_q)`` and
    ``t / rho = sign(zeta') / (|zeta'| + sqrt(rho^2 + zeta'^2))`` the small row becomes
    ``x_q' = (s/rho) x_p + c x_q`` (finite even when ``rho`` underflows: then it is Gram-Schmidt against ``x_p``).
    Then ``A = U diag(s) V^T`` with ``s_i = e^{ell_i}`` of the final rows, ``V``'s rows the final ``x_i``, and
    ``U`` the transposed accumulated rotations.
    """
    r, m = x.shape
    x = x.to(torch.float64).clone()
    ell = ell.to(torch.float64).clone()
    g = torch.eye(r, dtype=torch.float64, device=x.device)
    tol = 4 * torch.finfo(torch.float64).eps * math.sqrt(m) if tol is None else tol
    rounds = [(p.to(x.device), q.to(x.device)) for p, q in _schedule(r)] if r > 1 else []
    sweeps, converged = 0, r <= 1
    while not converged and sweeps < JACOBI_MAX_SWEEPS:
        sweeps += 1
        worst = 0.0
        for p, q in rounds:
            big = ell[p] >= ell[q]
            bi, si = torch.where(big, p, q), torch.where(big, q, p)
            xb, xs = x[bi], x[si]
            a, b = (xb * xb).sum(1), (xs * xs).sum(1)
            gdot = (xb * xs).sum(1)
            cos = gdot.abs() / torch.sqrt(a * b).clamp_min(1e-300)
            live = (cos > tol) & torch.isfinite(ell[si])
            if not bool(live.any()):
                continue
            worst = max(worst, float(cos[live].max()))
            rho = torch.exp(ell[si] - ell[bi])
            gsafe = torch.where(live, gdot, torch.ones_like(gdot))
            zeta = (rho * rho * b - a) / (2 * gsafe)
            tau = torch.sign(zeta) / (zeta.abs() + torch.sqrt(rho * rho + zeta * zeta))
            tau = torch.where(live, torch.where(zeta == 0, 1.0 / rho.clamp_min(1e-300), tau), torch.zeros_like(tau))
            t = rho * tau
            c = 1.0 / torch.sqrt(1 + t * t)
            s, s_rho = c * t, c * tau
            x[bi] = c[:, None] * xb - (s * rho)[:, None] * xs
            x[si] = s_rho[:, None] * xb + c[:, None] * xs
            gb, gs = g[bi], g[si]
            g[bi] = c[:, None] * gb - s[:, None] * gs
            g[si] = s[:, None] * gb + c[:, None] * gs
            for idx in (bi, si):
                nrm = torch.linalg.vector_norm(x[idx], dim=1)
                okn = nrm > 0
                ell[idx] = torch.where(okn, ell[idx] + torch.log(torch.where(okn, nrm, torch.ones_like(nrm))),
                                       torch.full_like(nrm, -math.inf))
                x[idx] = x[idx] / torch.where(okn, nrm, torch.ones_like(nrm))[:, None]
        converged = worst <= tol
    order = torch.sort(ell, descending=True).indices
    return JacobiResult(ell[order], g.T[:, order], x[order], sweeps, converged)


@dataclass(frozen=True)
class LogSVD:
    """Log-domain SVD of a product (``J^(d)``, or a tail ``J_{d+1:L}`` with ``depth = d``): ``log_s`` (``r``,
    descending; the other ``n - r`` values are exact zeros), ``left`` (``n x r``: left singular vectors in the
    output space), ``right`` (``n x r``: right singular vectors, zero outside the input support), and whether
    Jacobi ``converged``."""

    depth: int
    log_s: torch.Tensor
    left: torch.Tensor
    right: torch.Tensor
    converged: bool


def _graded(m0: int, steps, dev) -> Iterable[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The QR chain with ``Q_0 = I_{m0}`` and the graded ``T`` kept row-scaled. ``steps`` yields
    ``(tag, Z-block, keep)``: the block is applied to ``Q`` (float64); when ``tag`` is not None the SVD data
    ``(tag, ell, X, Q_full)`` of the product so far (all the block's rows) is yielded; ``keep`` is the row index to
    continue with (None: all rows; False: stop)."""
    q: torch.Tensor | None = None
    ell = torch.zeros(m0, dtype=torch.float64, device=dev)
    x = torch.eye(m0, dtype=torch.float64, device=dev)
    for tag, blk, keep in steps:
        z = blk.to(torch.float64) if q is None else blk.to(torch.float64) @ q
        if tag is not None:
            qf, rf = torch.linalg.qr(z)
            yield (tag, *_absorb(ell, x, rf), qf)
        if keep is False:
            return
        q, rr = torch.linalg.qr(z if keep is None else z.index_select(0, keep))
        ell, x = _absorb(ell, x, rr)


def log_svd_chain(
    net: Network, gates: list[Gate], depths: Iterable[int], *, vectors: bool = False
) -> Iterable[LogSVD]:
    """Yield the :class:`LogSVD` of ``J^(d)`` for each ``d`` in ``depths`` (ascending, ``<= len(gates)``), from one
    QR chain with ``Q_0 = I`` on the input support (module docstring). ``vectors=False`` leaves ``left``/``right``
    empty (cheaper: no ``Q_d`` products)."""
    want = set(depths)
    last = max(want)
    sup0 = net.supports(gates)[0]

    def steps():
        for d, f, nxt in chain_factors(net, gates, last):
            keep = False if d == last else (None if nxt.full else nxt.idx)
            yield (d if d in want else None), f, keep

    for d, ell, x, q in _graded(sup0.size, steps(), net.weights[0].device):
        jr = _jacobi(d, ell, x)
        if not vectors:
            yield LogSVD(d, jr.log_s, _EMPTY, _EMPTY, jr.converged)
        else:
            yield LogSVD(d, jr.log_s, q.cpu() @ jr.left, _embed(jr.right.T, sup0, net.width), jr.converged)


def tail_svd_chain(net: Network, gates: list[Gate], splits: Iterable[int]) -> Iterable[LogSVD]:
    """Yield the :class:`LogSVD` (with vectors) of the tail ``J_{d+1:L} = F_L ... F_{d+1}`` for each split ``d``
    in ``splits`` (``0 <= d < L``), descending, from one QR chain on the transpose
    ``J_{d+1:L}^T = F_{d+1}^T ... F_L^T`` run from the output side (``F_e`` restricted to the rows the next factor
    reads, so ``F_e^T`` maps the support of ``D_e`` to that of ``D_{e-1}``)."""
    depth = len(gates)
    want = set(splits)
    sup = net.supports(gates)

    def steps():
        for e in range(depth, min(want), -1):
            blk = net.layers[e - 1].factor(gates[e - 1], sup[e] if e < depth else None)
            yield ((e - 1) if (e - 1) in want else None), blk.T, (False if e - 1 == min(want) else None)

    for d, ell, x, q in _graded(net.width, steps(), net.weights[0].device):
        jr = _jacobi(d, ell, x)
        right = _embed(q.cpu() @ jr.left, sup[d], net.width)
        yield LogSVD(d, jr.log_s, jr.right.T.contiguous(), right, jr.converged)


_EMPTY = torch.empty(0, 0, dtype=torch.float64)


def _jacobi(d: int, ell, x) -> JacobiResult:
    jr = jacobi_rows(ell.cpu(), x.cpu())
    if not jr.converged:
        raise RuntimeError(f"the Jacobi SVD at depth {d} did not converge; please report this network")
    return jr


def _embed(v: torch.Tensor, sup: Gate, n: int) -> torch.Tensor:
    """Rows of ``v`` (indexed by the support ``sup``) placed in ``n``-space (zeros elsewhere)."""
    out = torch.zeros(n, v.shape[1], dtype=torch.float64)
    out[sup.idx.cpu()] = v
    return out
