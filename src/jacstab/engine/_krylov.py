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

from jacstab.engine._resolve import lanczos_round_steps


@dataclass(frozen=True)
class EigResult:
    values: torch.Tensor  # top-k Ritz values, descending
    vectors: torch.Tensor  # n x k Ritz vectors
    iterations: int
    converged: bool


def _norms(x: torch.Tensor) -> torch.Tensor:
    """Column 2-norms of ``x`` (``n x b``) that cannot overflow: each column is divided by its largest entry first
    (``torch.linalg.vector_norm`` squares the entries, which overflows past ~1e154). No host read."""
    big = x.abs().amax(dim=0)
    return big * torch.linalg.vector_norm(x / torch.where(big > 0, big, torch.ones_like(big)), dim=0)


def _normalised(v: torch.Tensor, drop, ref: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(v / ||v||, True)`` for one column ``v``, or ``(0, False)`` when ``||v|| <= drop``; no host read.

    ``ref``: a positive device scalar of the size of ``v``'s entries (the operator's scale), so that
    ``||v|| = ref ||v / ref||`` cannot overflow in two cheap passes; default: :func:`_norms` (three passes)."""
    nrm = _norms(v) if ref is None else torch.linalg.vector_norm(v / ref, dim=0) * ref
    keep = nrm > drop
    return v / torch.where(keep, nrm, torch.inf), keep[0]  # (v / inf = 0: a zero column)


def _project(block: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """``block`` minus its projection on the orthonormal columns of ``basis``, twice (CGS2: twice is enough)."""
    for _ in range(2):
        block = block - basis @ (basis.T @ block)
    return block


def _orth(block: torch.Tensor, basis: torch.Tensor | None, drop, *, single: bool = False) -> torch.Tensor:
    """Orthonormalise ``block`` against ``basis`` (twice, CGS2) and itself; drop directions below ``drop``.

    ``single`` (block size 1, the hot path of norms): the vector is normalised with no host read; at or below
    ``drop`` (a float or a device scalar) it becomes a zero column instead (an invariant subspace was reached; a
    zero column is marked and never picked by :func:`top_eigs`). A wider block's own orthonormal basis comes from a
    thin SVD (rank-revealing) and its dependent directions are dropped (one host read), so it may shrink: an
    unpivoted QR would, for an exactly dependent column in the middle of the block, put an arbitrary direction there
    and orthogonalise the kept columns against it instead of against ``basis``.
    """
    if basis is not None:
        block = _project(block, basis)
    if block.shape[1] == 0:
        return block
    if single:
        return _normalised(block, drop)[0]
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
    round_steps: int | None = None,
) -> EigResult:
    """Top-``k`` eigenpairs of the ``n x n`` symmetric PSD operator ``matmat`` by block Lanczos.

    The Krylov space ``K_j(A, V_0)`` is built a round of ``round_steps`` block products at a time; after each
    round the projected matrix ``T = Q^T A Q`` is solved (on the CPU, float64) and the stopping rule
    ``||A x_i - theta_i x_i|| <= tol theta_i + 100 eps theta_1`` checked on the true Ritz residuals. With one
    vector per block (``k = 1``, the norm) nothing inside a round synchronises with the host: a breakdown (an
    invariant subspace) turns the vector into a zero column (every later product of the round is then zero; zero
    columns get ``-1`` on the diagonal of ``T``, so their spurious eigenpairs sort below every Ritz value), and
    the finiteness of the products is accumulated on the device. Each check then synchronises twice: ``T`` copied
    to the host, and one read of the flags (rule met, finite, breakdown, zero columns); the Ritz coefficients go
    back in one small copy. A wider block reads the host once per block step (its rank-revealing SVD) and ends a
    round at a breakdown.

    Args:
        matmat: ``V (n x b) -> A V``.
        k: how many eigenpairs (``k <= n``).
        start: optional ``n x j`` warm start (e.g. the previous depth's top singular vector; a zero single vector
            is replaced by a random one).
        block: block size (default ``max(k, 1)``); fill beyond ``start`` is random from ``generator``.
        tol: relative residual tolerance (default ``1e-10`` in float64, ``1e-6`` in float32).
        max_dim: largest Krylov dimension before giving up (default ``min(n, 60 * block + 200)``; zero columns of
            a single vector's breakdown do not count).
        round_steps: block products between two checks (default
            :func:`~jacstab.engine._resolve.lanczos_round_steps` of ``device``: 1 on the CPU, where a check is
            cheap, more on a GPU, where each check synchronises with the host). Up to ``round_steps - 1`` products
            past convergence (or past a breakdown of a single vector) may be spent; the answer is the same to the
            tolerance.

    Returns:
        :class:`EigResult`; ``iterations`` is the number of block products; ``converged`` is False when
        ``max_dim`` was reached first, or when the operator returned nan or inf (values nan); callers fall back to
        a dense method then.
    """
    eps, tiny = torch.finfo(dtype).eps, torch.finfo(dtype).tiny
    tol = (1e-10 if dtype == torch.float64 else 1e-6) if tol is None else tol
    b = max(k, 1) if block is None else max(block, k)
    b = min(b, n)
    single = b == 1
    max_dim = min(n, 60 * b + 200) if max_dim is None else min(max_dim, n)
    rounds = lanczos_round_steps(device) if round_steps is None else max(1, int(round_steps))
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    v0 = torch.randn(n, b, generator=g, dtype=torch.float64).to(dtype=dtype, device=device)
    if start is not None:
        j = min(start.shape[1], b)
        s0 = start[:, :j].to(dtype=dtype, device=device)
        if not single or bool((s0 != 0).any()):  # (one read, before any product)
            v0[:, :j] = s0
    q = _orth(v0, None, 0.0, single=single)
    # the basis Q and A Q, preallocated and grown by doubling (a torch.cat per step copied O(n dim) each time)
    qb = torch.empty(n, min(max_dim, max(rounds, 4) * b), dtype=dtype, device=device)
    aqb = torch.empty_like(qb)
    dim, wasted, it, restarted = 0, 0, 0, False  # columns appended; zero columns among them (known at checks)
    finite: torch.Tensor | None = None  # every product so far was finite (a device bool)
    scale = torch.zeros((), dtype=dtype, device=device)  # largest ||A q|| in a round: the in-round breakdown scale
    while True:
        for step in range(rounds):
            w = matmat(q)
            it += 1
            c = q.shape[1]
            if dim + c > qb.shape[1]:
                cap = max(2 * qb.shape[1], dim + c)
                qb, aqb = _grown(qb, dim, cap), _grown(aqb, dim, cap)
            qb[:, dim : dim + c], aqb[:, dim : dim + c] = q, w
            dim += c
            fin_w = torch.isfinite(w).all()
            finite = fin_w if finite is None else finite & fin_w
            if dim - wasted >= max_dim or step == rounds - 1 or (not single and not bool(finite)):  # (block: reads)
                break
            scale = torch.maximum(scale, _norms(w).max())
            q = _orth(w, qb[:, :dim], 100 * eps * torch.clamp(scale, min=tiny), single=single)
            if q.shape[1] == 0:  # a wider block whose every direction was dropped: an invariant subspace
                break
        Q, AQ = qb[:, :dim], aqb[:, :dim]
        T = torch.where(finite, Q.T @ AQ, 0.0)  # (not finite: reported below)
        zero_cols = None
        if single and rounds > 1:  # zero columns come only from a breakdown inside a round
            zero_cols = (Q == 0).all(dim=0)
            T = T - torch.diag(zero_cols.to(dtype))
        # the small projected problem is solved on the CPU in float64 (a GPU eigh of a tiny matrix is slow)
        theta, Y = torch.linalg.eigh(0.5 * (T + T.T).to(device="cpu", dtype=torch.float64))
        kk = min(k, theta.numel())
        ty = torch.cat([theta.flip(0)[None, :kk], Y.flip(1)[:, :kk]]).to(device=Q.device, dtype=dtype)
        theta, Y = ty[0], ty[1:]
        X = Q @ Y
        top = torch.clamp(theta[0], min=0)
        ref = torch.clamp(torch.maximum(top, scale), min=tiny)  # the operator's scale (norms taken on x / ref)
        res = torch.linalg.vector_norm((AQ @ Y - X * theta) / ref, dim=0) * ref
        ok = (res <= tol * torch.clamp(theta, min=0) + 100 * eps * top).all()
        drop = 100 * eps * ref  # as in the round, or the Ritz value
        # one vector per block: the next one is formed before the check (no host read); it is zero when the space
        # became invariant (in this round or before: a zero vector's products are zero)
        nxt, kept = None, torch.ones((), dtype=torch.bool, device=Q.device)
        if single and dim - wasted < max_dim:
            nxt, kept = _normalised(_project(w, Q), drop, ref)  # as _orth, keeping the flag
        flags = torch.stack([finite, ok, top == 0, kept])
        if zero_cols is not None:  # one read for both: the flags and the number of zero columns
            flags = torch.cat([flags.to(torch.int64), zero_cols.sum()[None]])
        fin, ok, zero, kept, *nz = flags.tolist()
        nzero = nz[0] if nz else 0
        rank = dim - nzero  # the basis's dimension (its zero columns do not count, nor against max_dim)
        wasted = nzero
        if not fin:  # the operator itself is not finite: no eigenpairs to find
            return EigResult(torch.full((k,), float("nan"), dtype=dtype), Q[:, :0], it, False)
        if not single and q.shape[1] == 0:
            nxt = q  # found inside the round
        elif not single and not ok and dim < max_dim:
            nxt = _orth(w, Q, drop)
        empty = nxt is not None and (nxt.shape[1] == 0 or not kept)  # no new direction: an invariant subspace
        invariant = (ok and zero) or (not ok and empty)
        if invariant and start is not None and not restarted and rank < n:
            # an invariant subspace grown from a warm start need not hold the top eigenvector (the start may lie in
            # the null space of A): continue once with random directions orthogonal to it
            restarted, ok = True, False
            fill = torch.randn(n, b, generator=g, dtype=torch.float64).to(dtype=dtype, device=device)
            nxt = _orth(fill, Q, eps, single=single)
            invariant = False
        if ok or invariant or nxt is None or nxt.shape[1] == 0:
            done = ok or invariant or rank >= n
            return EigResult(torch.clamp(theta, min=0), X, it, done and kk == k)
        q = nxt


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


def _grown(buf: torch.Tensor, used: int, cols: int) -> torch.Tensor:
    """A new ``n x cols`` buffer holding ``buf[:, :used]`` (columns past ``used`` uninitialised, never read)."""
    out = buf.new_empty(buf.shape[0], cols)
    out[:, :used] = buf[:, :used]
    return out


def _resized(stack: torch.Tensor, keep: torch.Tensor | None, j: int, rows: int) -> torch.Tensor:
    """A new ``(len(keep) or C) x rows x m`` stack holding ``stack[keep, :j]`` (all matrices when ``keep`` is None);
    rows past ``j`` are left uninitialised (never read)."""
    src = stack[:, :j] if keep is None else stack[keep, :j]
    out = stack.new_empty(src.shape[0], rows, stack.shape[2])
    out[:, :j] = src
    return out
