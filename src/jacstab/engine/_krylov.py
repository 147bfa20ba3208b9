"""Block Lanczos with full reorthogonalisation for the top eigenpairs of a symmetric PSD operator.

Used with ``A = J^T J`` given only through products ``V -> A V``: the top ``k`` Ritz values of ``A`` are the
squared top singular values of ``J``. Convergence is declared on the true Ritz residual
``||A x_i - theta_i x_i|| <= tol * theta_i + floor * theta_1`` (then an eigenvalue of ``A`` lies within the
residual of ``theta_i``), so the answer carries its own error bound. Block size >= multiplicity recovers repeated
eigenvalues; Krylov methods converge like ``sqrt(gap)``, where power iteration converges like ``gap``
(Golub and Van Loan, Matrix Computations, sections 10.1-10.3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class EigResult:
    values: torch.Tensor  # top-k Ritz values, descending
    vectors: torch.Tensor  # n x k Ritz vectors
    iterations: int
    converged: bool


def _orth(block: torch.Tensor, basis: torch.Tensor | None, drop: float) -> torch.Tensor:
    """Orthonormalise ``block`` against ``basis`` (twice, CGS2) and itself; drop directions below ``drop``.

    The block's own orthonormal basis comes from a thin SVD (rank-revealing): an unpivoted QR would, for an exactly
    dependent column in the middle of the block, put an arbitrary direction there and orthogonalise the kept
    columns against it instead of against ``basis``.
    """
    for _ in range(2):
        if basis is not None:
            block = block - basis @ (basis.T @ block)
    if block.shape[1] == 0:
        return block
    if block.shape[1] == 1:  # one column: normalising it is exact (the hot path of depth curves)
        nrm = torch.linalg.vector_norm(block)
        return block / nrm if float(nrm) > drop else block[:, :0]
    u, s, _ = torch.linalg.svd(block, full_matrices=False)
    q = u[:, s > drop]
    if basis is not None and q.shape[1]:
        q = q - basis @ (basis.T @ q)  # one more pass: the SVD's rounding is relative to the block's norm
        q, _ = torch.linalg.qr(q)
    return q


def top_eigs(
    matmat: Callable[[torch.Tensor], torch.Tensor],
    n: int,
    k: int,
    *,
    dtype: torch.dtype,
    device,
    start: torch.Tensor | None = None,
    block: int | None = None,
    tol: float | None = None,
    max_dim: int | None = None,
    generator: torch.Generator | None = None,
) -> EigResult:
    """Top-``k`` eigenpairs of the ``n x n`` symmetric PSD operator ``matmat`` by block Lanczos.

    Args:
        matmat: ``V (n x b) -> A V``.
        k: how many eigenpairs (``k <= n``).
        start: optional ``n x j`` warm start (e.g. the previous depth's top singular vector).
        block: block size (default ``max(k, 1)``); fill beyond ``start`` is random from ``generator``.
        tol: relative residual tolerance (default ``1e-10`` in float64, ``1e-6`` in float32).
        max_dim: largest Krylov dimension before giving up (default ``min(n, 60 * block + 200)``).

    Returns:
        :class:`EigResult`; ``converged`` is False when ``max_dim`` was reached first, or when the operator returned
        nan or inf (values nan); callers fall back to a dense method then.
    """
    eps = torch.finfo(dtype).eps
    tol = (1e-10 if dtype == torch.float64 else 1e-6) if tol is None else tol
    b = max(k, 1) if block is None else max(block, k)
    b = min(b, n)
    max_dim = min(n, 60 * b + 200) if max_dim is None else min(max_dim, n)
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    v0 = torch.randn(n, b, generator=g, dtype=torch.float64).to(dtype=dtype, device=device)
    if start is not None:
        j = min(start.shape[1], b)
        v0[:, :j] = start[:, :j].to(dtype=dtype, device=device)
    q = _orth(v0, None, 0.0)
    qs, aqs = [q], [matmat(q)]
    if not bool(torch.isfinite(aqs[0]).all()):  # the operator itself is not finite: no eigenpairs to find
        return EigResult(torch.full((k,), float("nan"), dtype=dtype), q[:, :0], 0, False)
    it, restarted = 0, False
    while True:
        it += 1
        Q, AQ = torch.cat(qs, 1), torch.cat(aqs, 1)
        # the small projected problem is solved on the CPU in float64 (a GPU eigh of a tiny matrix is slow)
        T = (Q.T @ AQ).to(device="cpu", dtype=torch.float64)
        theta, Y = torch.linalg.eigh(0.5 * (T + T.T))
        kk = min(k, theta.numel())
        theta = theta.flip(0)[:kk].to(device=Q.device, dtype=dtype)
        Y = Y.flip(1)[:, :kk].to(device=Q.device, dtype=dtype)
        X = Q @ Y
        res = torch.linalg.vector_norm(AQ @ Y - X * theta, dim=0)
        top = torch.clamp(theta[0], min=0)
        ok = bool((res <= tol * torch.clamp(theta, min=0) + 100 * eps * top).all())
        nxt = None if ok or Q.shape[1] >= max_dim else _orth(aqs[-1], Q, 100 * eps * max(float(top), 1e-300))
        invariant = (nxt is not None and nxt.shape[1] == 0) or (ok and float(top) == 0.0)
        if invariant and start is not None and not restarted and Q.shape[1] < n:
            # an invariant subspace grown from a warm start need not hold the top eigenvector (the start may lie in
            # the null space of A): continue once with random directions orthogonal to it
            restarted, ok = True, False
            fill = torch.randn(n, b, generator=g, dtype=torch.float64).to(dtype=dtype, device=device)
            nxt = _orth(fill, Q, eps)
        if ok or nxt is None or nxt.shape[1] == 0:
            exact = nxt is not None and nxt.shape[1] == 0  # invariant subspace found
            done = ok or exact or Q.shape[1] >= n
            return EigResult(torch.clamp(theta, min=0), X, it, done and kk == k)
        qs.append(nxt)
        aqs.append(matmat(nxt))
        if not bool(torch.isfinite(aqs[-1]).all()):
            return EigResult(torch.full((k,), float("nan"), dtype=dtype), Q[:, :0], it, False)


@dataclass(frozen=True)
class BatchedTop:
    values: torch.Tensor  # (C,) top Ritz value of each matrix (>= 0; nan for a non-finite matrix)
    converged: torch.Tensor  # (C,) bool: the Ritz residual met the stopping rule (or the value is nan: nothing to do)
    dim: int  # Krylov dimension reached
    checks: int  # host reads of the stopping rule (one per round)


def _orth_rows(w: torch.Tensor, basis: torch.Tensor, drop: torch.Tensor) -> torch.Tensor:
    """Batched, rows as vectors: orthonormalise the row blocks ``w`` (``C x b x m``) against the rows of ``basis``
    (``C x j x m``, CGS2: twice is enough) and themselves (a norm for ``b = 1``, else QR); rows whose pivot is at
    most ``drop`` (an invariant subspace was reached) become zero. After a QR a last projection keeps the block
    orthogonal to ``basis`` (the QR's rounding is relative to the block's norm). No host read."""
    for _ in range(2):
        w = w - (w @ basis.mT) @ basis
    if w.shape[1] == 1:  # one vector: normalising it is exact (the hot path of depth curves)
        piv = torch.linalg.vector_norm(w, dim=2, keepdim=True)
        keep = piv > drop
        return torch.where(keep, w / torch.where(keep, piv, torch.ones_like(piv)), 0.0)
    q, r = torch.linalg.qr(w.mT)
    keep = torch.diagonal(r, dim1=1, dim2=2).abs()[:, None, :] > drop
    q = torch.where(keep, q, 0.0).mT
    return q - (q @ basis.mT) @ basis


def top_eig_batched(
    a: torch.Tensor,
    *,
    tol: float,
    block: int,
    round_steps: int,
    max_dim: int | None = None,
    generator: torch.Generator,
) -> BatchedTop:
    """Top eigenvalue of every matrix of a stack ``a`` (``C x m x m``, symmetric PSD) by batched block Lanczos.

    One random start block (``block`` vectors of length ``m`` from ``generator``, the same for every matrix) and
    full reorthogonalisation; the recurrences run as batched matrix products with no host synchronisation inside a
    round of ``round_steps`` block steps. Vectors are kept as rows: ``A q = (q^T A)^T`` for symmetric ``A``, and a
    batched row-vector-times-matrix product streams ``a`` at memory speed (about 4x faster on the CPU than the
    batched matrix-times-column product, which falls off the BLAS fast path); the Krylov basis is preallocated, not
    concatenated. After each round the Ritz residual ``||A x - theta x|| <= tol theta + 100 eps theta``
    (``||x|| = 1``; then an eigenvalue of ``A`` lies within the residual of ``theta``) is checked for the whole
    stack at once, one host read, and only the matrices that have not met it go on (the batch is compacted). A
    breakdown (pivot ``<= 100 eps tr A``: an invariant subspace) leaves zero rows in the basis, which add zero
    Ritz values only. Stops when every matrix passes or the Krylov dimension reaches ``max_dim`` (default ``m``:
    the whole space, Ritz values exact up to rounding). ``a`` need only be symmetric to rounding (a formed Gram
    matrix): the products then use ``A^T``, which differs from ``A`` by rounding.

    Returns:
        :class:`BatchedTop`; callers recompute the matrices with ``converged`` False by a dense method.
    """
    c, m, _ = a.shape
    max_dim = m if max_dim is None else min(max_dim, m)
    b = max(1, min(block, max_dim))
    eps = torch.finfo(a.dtype).eps
    values = a.new_zeros(c)
    converged = torch.zeros(c, dtype=torch.bool, device=a.device)
    live = torch.arange(c, device=a.device)  # rows of the stack still iterating
    drop = (100 * eps) * torch.diagonal(a, dim1=1, dim2=2).sum(-1)[:, None, None]
    start = torch.randn(b, m, generator=generator, dtype=torch.float64).to(a).expand(c, b, m)
    cap = (max_dim // b) * b  # Krylov dimension at which the iteration stops
    room = min(cap, round_steps * b)  # the basis grows by one round at a time (rows [:j] are the ones read)
    basis, abasis = a.new_empty(c, room, m), a.new_empty(c, room, m)
    q = _orth_rows(start, basis[:, :0], drop)
    j, checks = 0, 0
    while True:
        if basis.shape[1] < min(cap, j + round_steps * b):
            room = min(cap, j + round_steps * b)
            basis, abasis = _resized(basis, None, j, room), _resized(abasis, None, j, room)
        for _ in range(round_steps):
            w = q @ a  # rows: (A q^T)^T
            basis[:, j : j + b], abasis[:, j : j + b] = q, w
            j += b
            if j + b > max_dim:
                break
            q = _orth_rows(w, basis[:, :j], drop)
        bs, abs_ = basis[:, :j], abasis[:, :j]
        t = bs @ abs_.mT
        theta, y = torch.linalg.eigh(0.5 * (t + t.mT))
        top, y = theta[:, -1].clamp(min=0), y[:, :, -1:].mT  # y: C x 1 x j
        x = y @ bs
        nx = torch.linalg.vector_norm(x, dim=(1, 2))
        res = torch.linalg.vector_norm(y @ abs_ - x * top[:, None, None], dim=(1, 2))
        ok = (res <= (tol + 100 * eps) * top * nx) | torch.isnan(top)
        values[live], converged[live] = top, ok
        checks += 1
        if j + b > max_dim or bool(ok.all()):
            return BatchedTop(values, converged, j, checks)
        keep = torch.nonzero(~ok).flatten()  # compact: only the matrices still short of the rule go on
        live, a, q, drop = live[keep], a[keep], q[keep], drop[keep]
        basis, abasis = _resized(basis, keep, j, basis.shape[1]), _resized(abasis, keep, j, abasis.shape[1])


def _resized(stack: torch.Tensor, keep: torch.Tensor | None, j: int, rows: int) -> torch.Tensor:
    """A new ``(len(keep) or C) x rows x m`` stack holding ``stack[keep, :j]`` (all matrices when ``keep`` is None);
    rows past ``j`` are left uninitialised (never read)."""
    src = stack[:, :j] if keep is None else stack[keep, :j]
    out = stack.new_empty(src.shape[0], rows, stack.shape[2])
    out[:, :j] = src
    return out
