"""Products of the masked layers ``W_d D_{d-1}`` in the log domain, exploiting the sparsity of ``D``.

Notation (paper eq. 2): ``J^(d) = W_d D_{d-1} ... W_1 D_0``. Let ``a_k`` be the support of ``D_k`` (about ``n/2``
units for ReLU) and ``s_k`` its values there. Every column of ``J^(d)`` outside ``a_0`` is zero, so we only keep
the columns in ``a_0``, and we only need the rows of ``J^(d-1)`` in ``a_{d-1}``:

    P_0 = I_{|a_0|},    F_d = W_d[:, a_{d-1}] diag(s_{d-1}) P_{d-1}  (= J^(d)[:, a_0]),    P_d = F_d[a_d, :].

For a residual block (``I + alpha W D``, paper 004) the support is every unit (:meth:`Network.supports`),
so nothing is restricted. Each factor comes from its layer (:meth:`jacstab.nets.layers.Dense.factor`). An
intermediate step only needs ``W_d[a_d, a_{d-1}]``: ``|a_d| |a_{d-1}| |a_0| ~ n^3/8`` multiply-adds for ReLU, 8x
fewer than the dense ``n^3``.
``P_d`` is divided by its largest entry after each step (exact, and unlike a norm it cannot overflow) and the log of
the factor accumulated, so no depth overflows or underflows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

from jacstab.engine._krylov import top_eig_batched, top_eigs
from jacstab.engine._resolve import (
    CURVE_BLOCK,
    CURVE_GRAM_MAX_COLS,
    CURVE_ROUND_STEPS,
    RunInfo,
    curve_chunk,
    norm_by_svd,
)
from jacstab.engine.operators import FormedChain
from jacstab.nets.layers import Gate
from jacstab.nets.network import Network


def _normalise(p: torch.Tensor) -> tuple[torch.Tensor, float]:
    f = float(p.abs().amax()) if p.numel() else 0.0  # the largest entry: exact, never overflows (a norm can)
    if f == 0.0 or not math.isfinite(f):
        return p, (-math.inf if f == 0.0 else math.nan)
    return p / f, math.log(f)


def spectral_norm(
    f: torch.Tensor,
    *,
    start: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    info: RunInfo | None = None,
) -> tuple[float, torch.Tensor | None]:
    """``(||F||_2, top right singular vector or None)``: SVD for small ``F`` (:func:`norm_by_svd`), else Lanczos on
    ``F^T F`` (warm-started with ``start``), falling back to the SVD when Lanczos does not converge (recorded in
    ``info``), so the result is always accurate to the dtype's tolerance."""
    if norm_by_svd(*f.shape):
        return float(torch.linalg.matrix_norm(f, ord=2)), None
    m = f.shape[1]
    r = top_eigs(lambda v: f.T @ (f @ v), m, 1, dtype=f.dtype, device=f.device, start=start, generator=generator)
    if not r.converged:
        if info is not None:
            info.fallbacks.append(f"norm of a {tuple(f.shape)} prefix: Lanczos did not converge -> SVD")
        return float(torch.linalg.matrix_norm(f, ord=2)), None
    return math.sqrt(float(r.values[0])), r.vectors[:, :1]


def prefix_products(
    net: Network, gates: list[Gate], depth: int, *, every_depth: bool
) -> Iterator[tuple[int, torch.Tensor | None, float]]:
    """Yield ``(d, F_d / e^ell, ell)`` with ``F_d = J^(d)[:, a_0]``: every depth if ``every_depth`` else the last.

    ``ell`` is the accumulated log scale (``-inf`` once the product is exactly zero; ``F`` is then ``None``).
    """
    sup = net.supports(gates)  # a residual block's support is every unit: its columns are not restricted
    p: torch.Tensor | None = None  # None stands for the identity P_0
    ell = 0.0
    for d in range(1, depth + 1):
        layer, cols = net.layers[d - 1], gates[d - 1]
        last = d == depth
        if every_depth or last:
            blk = layer.factor(cols, None)
            f = blk if p is None else blk @ p
            yield d, f, ell
            if last:
                return
            p = f if sup[d].full else f.index_select(0, sup[d].idx)
        else:
            blk = layer.factor(cols, sup[d])
            p = blk if p is None else blk @ p
        p, step = _normalise(p)
        ell += step
        if ell == -math.inf:  # J^(e) = 0 for every e > d
            for e in range(d + 1, depth + 1):
                if every_depth or e == depth:
                    yield e, None, -math.inf
            return


def prefix_chunks(
    net: Network, gates: list[Gate], depth: int, chunk: int
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """Yield ``(d0, F, ell)`` for consecutive runs of up to ``chunk`` depths ``d0 .. d0 + c - 1``: ``F`` stacks
    ``F_d = J^(d)[:, a_0] / e^{ell_d}`` (``c x n x |a_0|``), ``ell`` the log scales (``(c,)`` float64 tensor).

    Same recurrence as :func:`prefix_products`, but the scale stays on the device: ``P`` is divided by its largest
    entry where that is positive and finite (else by 1), and ``ell`` accumulates its log (``-inf`` once the product
    is exactly zero, which then stays zero; nan once non-finite). No host read of a tensor value.
    """
    sup = net.supports(gates)
    m = sup[0].size
    p: torch.Tensor | None = None  # the identity P_0
    ell = torch.zeros((), dtype=torch.float64, device=net.device)
    for d0 in range(1, depth + 1, chunk):
        c = min(chunk, depth - d0 + 1)
        fs = torch.empty(c, net.width, m, dtype=net.dtype, device=net.device)
        ells = torch.empty(c, dtype=torch.float64, device=net.device)
        for i in range(c):
            d = d0 + i
            blk = net.layers[d - 1].factor(gates[d - 1], None)
            if p is None:
                fs[i] = blk
            else:
                torch.matmul(blk, p, out=fs[i])
            ells[i] = ell
            if d == depth:
                break
            p = fs[i] if sup[d].full else fs[i].index_select(0, sup[d].idx)
            big = p.abs().amax().to(torch.float64) if p.numel() else ell.new_zeros(())  # exact; a norm can overflow
            good = (big > 0) & torch.isfinite(big)
            p = p / torch.where(good, big, torch.ones_like(big)).to(p.dtype)
            ell = ell + torch.log(big)
        yield d0, fs, ells


def depth_curve_dense(
    net: Network,
    gates: list[Gate],
    depth: int,
    callback: Callable[[int], None] | None = None,
    info: RunInfo | None = None,
) -> torch.Tensor:
    """``log ||J^(d)||`` for ``d = 1..depth`` from one pass over the prefix products, in chunks of depths.

    For a chunk of prefixes ``F_d`` (:func:`prefix_chunks`) the Gram matrices ``G_d = F_d^T F_d`` are formed by
    one batched product (float64), and ``||F_d||^2 = lambda_max(G_d)`` comes from batched Lanczos
    (:func:`~jacstab.engine._krylov.top_eig_batched`: stopping rule on the Ritz residual, relative ``1e-10`` of
    ``lambda`` in float64, ``1e-6`` in float32, so ``||F_d||`` to half that). Depths whose Lanczos did not meet the
    rule fall back to the SVD of ``F_d`` (recorded in ``info``). Host reads: one per Lanczos round and chunk
    (``CURVE_ROUND_STEPS``, ``CURVE_CHUNK_BYTES`` in :mod:`~jacstab.engine._resolve`), plus the final copy.
    """
    m = net.supports(gates[:1])[0].size
    if m > CURVE_GRAM_MAX_COLS:
        return depth_curve_warm(net, gates, depth, callback, info)
    out = torch.full((depth,), -math.inf, dtype=torch.float64, device=net.device)
    tol = 1e-10 if net.dtype == torch.float64 else 1e-6
    g = torch.Generator().manual_seed(0)
    chunk = curve_chunk(net.width, m, depth)
    for d0, fs, ells in prefix_chunks(net, gates, depth, chunk) if m else ():
        f64 = fs.to(torch.float64)
        gram = f64.mT @ f64
        if not bool(torch.isfinite(gram).all()):  # one host read per chunk; entries past ~1e154 overflow the Gram
            f64, ells, gram = _rescaled(f64, ells, d0)
        top = top_eig_batched(gram, tol=tol, block=CURVE_BLOCK, round_steps=CURVE_ROUND_STEPS, generator=g)
        sq = top.values
        if not bool(top.converged.all()):  # host read once per chunk, only on this rare path
            bad = torch.nonzero(~top.converged).flatten()
            sq = sq.clone()
            sq[bad] = torch.linalg.matrix_norm(f64[bad], ord=2) ** 2
            if info is not None:
                info.fallbacks += [
                    f"norm of the depth-{d0 + int(i)} prefix {tuple(fs.shape[1:])}: Lanczos did not converge -> SVD"
                    for i in bad.tolist()
                ]
        out[d0 - 1 : d0 - 1 + fs.shape[0]] = ells + 0.5 * torch.log(sq)
        if callback is not None:
            for d in range(d0, d0 + fs.shape[0]):
                callback(d)
    return out.cpu()


def _rescaled(f: torch.Tensor, ells: torch.Tensor, d0: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each prefix of the stack divided by its largest entry (exact scale kept in ``ells``) and its Gram matrix:
    for weights so large that ``F^T F`` overflows float64 although ``F`` is finite."""
    amax = f.abs().amax(dim=(1, 2))
    amax = torch.where(amax > 0, amax, torch.ones_like(amax))
    f = f / amax[:, None, None]
    gram = f.mT @ f
    if not bool(torch.isfinite(gram).all()):
        raise ValueError(
            f"the product of the weights overflows float64 between depths {d0} and {d0 + f.shape[0] - 1}; "
            "rescale the weights (jacstab measures finite products only)"
        )
    return f, ells + torch.log(amax), gram


def depth_curve_warm(
    net: Network,
    gates: list[Gate],
    depth: int,
    callback: Callable[[int], None] | None = None,
    info: RunInfo | None = None,
) -> torch.Tensor:
    """``log ||J^(d)||`` for ``d = 1..depth``, one norm per depth (warm-started Lanczos on ``F_d^T F_d``, SVD for
    small prefixes): faster than the Gram stack when the prefixes are wide (``CURVE_GRAM_MAX_COLS``)."""
    out = torch.empty(depth, dtype=torch.float64)
    v = None
    g = torch.Generator().manual_seed(0)
    for d, f, ell in prefix_products(net, gates, depth, every_depth=True):
        if f is None:
            out[d - 1] = -math.inf
        else:
            nrm, v = spectral_norm(f, start=v, generator=g, info=info)
            out[d - 1] = ell + (math.log(nrm) if nrm > 0 else -math.inf)
        if callback is not None:
            callback(d)
    return out


def product_at(net: Network, gates: list[Gate], depth: int) -> FormedChain | None:
    """``J^(depth)[:, a_0]`` formed densely as a :class:`FormedChain` (None when ``J = 0`` exactly)."""
    ((_, f, ell),) = prefix_products(net, gates, depth, every_depth=False)
    return None if f is None else FormedChain(f, ell)
