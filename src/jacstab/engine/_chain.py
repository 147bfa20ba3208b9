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
    CURVE_ROUND_STEPS,
    RunInfo,
    curve_by_gram,
    curve_chunk,
    curve_cols,
    lanczos_round_steps,
    norm_by_svd,
)
from jacstab.engine.operators import FormedChain
from jacstab.nets.layers import Gate
from jacstab.nets.network import Network


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
    r = top_eigs(lambda v: f.T @ (f @ v), m, 1, dtype=f.dtype, device=f.device, start=start, generator=generator,
                 round_steps=lanczos_round_steps(f.device, formed=True))
    if not r.converged:
        if info is not None:
            info.fallbacks.append(f"norm of a {tuple(f.shape)} prefix: Lanczos did not converge -> SVD")
        return float(torch.linalg.matrix_norm(f, ord=2)), None
    return math.sqrt(float(r.values[0])), r.vectors[:, :1]


def prefix_products(
    net: Network, gates: list[Gate], depth: int, *, every_depth: bool
) -> Iterator[tuple[int, torch.Tensor | None, float]]:
    """Yield ``(d, F_d / e^ell, ell)`` with ``F_d = J^(d)[:, a_0]``: every depth if ``every_depth`` else the last.

    ``ell`` is the accumulated log scale (``-inf`` once the product is exactly zero; ``F`` is then ``None``). The
    running product is divided by its largest entry after each layer (:func:`_rescaled`); the scale stays on the
    device, so the only host read is one per yielded depth.
    """
    sup = net.supports(gates)  # a residual block's support is every unit: its columns are not restricted
    p: torch.Tensor | None = None  # None stands for the identity P_0
    ell = torch.zeros((), dtype=torch.float64, device=net.device)
    for d in range(1, depth + 1):
        layer, cols = net.layers[d - 1], gates[d - 1]
        last = d == depth
        if every_depth or last:
            blk = layer.factor(cols, None)
            f = blk if p is None else blk @ p
            e = float(ell)
            yield d, (None if e == -math.inf else f), e
            if last:
                return
            p = f if sup[d].full else f.index_select(0, sup[d].idx)
        else:
            blk = layer.factor(cols, sup[d])
            p = blk if p is None else blk @ p
        p, step = _rescaled(p)  # step = -inf once the product is exactly zero: it stays zero, ell stays -inf
        ell = ell + step


def _rescaled(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(f / c, log c)`` with ``c = max |f_ij|`` (a float64 device scalar; ``f`` is left as it is when ``c`` is 0,
    i.e. ``log c = -inf``, or not finite): an exact scale that cannot overflow (a norm can, past ~1e154); one
    reduction pass, no host read."""
    if not f.numel():
        return f, torch.full((), -math.inf, dtype=torch.float64, device=f.device)
    lo, hi = torch.aminmax(f)
    big = torch.maximum(hi, -lo).to(torch.float64)
    good = (big > 0) & torch.isfinite(big)
    return f / torch.where(good, big, torch.ones_like(big)).to(f.dtype), torch.log(big)


def prefix_grams(
    net: Network, gates: list[Gate], depth: int, chunk: int
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """Yield ``(d0, G, ell)`` for consecutive runs of up to ``chunk`` depths ``d0 .. d0 + c - 1``: ``G`` stacks the
    float64 Gram matrices ``G_d = F_d^T F_d / e^{2 ell_d}`` (``c x m' x m'``) of ``F_d = J^(d)[:, a_0]``, ``ell``
    their log scales (``(c,)`` float64), so ``log ||J^(d)|| = ell_d + log lambda_max(G_d) / 2``. ``F_d`` carries
    ``m' - |a_0|`` zero columns (``m'`` = ``|a_0|`` rounded up to a multiple of ``CURVE_PAD``): they add zero
    eigenvalues only, and GEMMs of such widths run up to 30% faster (MKL, n = 256).

    Same recurrence as :func:`prefix_products`; each ``F_d`` is divided by its largest entry (exact, and its Gram
    entries then lie in ``[-n, n]``: nothing overflows or underflows at any weight scale), its Gram matrix is formed
    while ``F_d`` is still in cache, and only its active rows go on as ``P_d``. The scales stay on the device
    (``ell = -inf`` once the product is exactly zero; ``+inf`` or nan only if a product of finite weights overflows
    float64). No host read of a tensor value.
    """
    sup = net.supports(gates)
    m = sup[0].size
    mp = curve_cols(m)  # zero columns up to a multiple of CURVE_PAD: faster GEMMs, same norms
    p: torch.Tensor | None = None  # the identity P_0
    ell = torch.zeros((), dtype=torch.float64, device=net.device)
    for d0 in range(1, depth + 1, chunk):
        c = min(chunk, depth - d0 + 1)
        grams = torch.empty(c, mp, mp, dtype=torch.float64, device=net.device)
        ells = torch.empty(c, dtype=torch.float64, device=net.device)
        for i in range(c):
            d = d0 + i
            blk = net.layers[d - 1].factor(gates[d - 1], None)
            f = torch.nn.functional.pad(blk, (0, mp - m)) if p is None else blk @ p
            f, step = _rescaled(f)
            ell = ell + step
            ells[i] = ell
            f64 = f.to(torch.float64)
            torch.matmul(f64.T, f64, out=grams[i])
            if d < depth:
                p = f if sup[d].full else f.index_select(0, sup[d].idx)
        yield d0, grams, ells


def depth_curve_dense(
    net: Network,
    gates: list[Gate],
    depth: int,
    callback: Callable[[int], None] | None = None,
    info: RunInfo | None = None,
) -> torch.Tensor:
    """``log ||J^(d)||`` for ``d = 1..depth`` from one pass over the prefix products, in chunks of depths.

    For a chunk of prefixes ``F_d`` the scaled Gram matrices ``G_d = F_d^T F_d`` (:func:`prefix_grams`, float64)
    are stacked, and ``||F_d||^2 = lambda_max(G_d)`` comes from batched Lanczos
    (:func:`~jacstab.engine._krylov.top_eig_batched`: stopping rule on the Ritz residual, relative ``1e-10`` of
    ``lambda`` in float64, ``1e-6`` in float32, so ``||F_d||`` to half that). Depths whose Lanczos did not meet the
    rule fall back to the dense eigenvalues of ``G_d`` (``eigvalsh``: ``lambda_max`` to ``eps ||G_d||``, i.e.
    relative ``eps``; recorded in ``info``). Host reads: one per Lanczos round and chunk, one overflow check per
    chunk (``CURVE_ROUND_STEPS``, ``CURVE_CHUNK_BYTES`` in :mod:`~jacstab.engine._resolve`), plus the final copy.

    Raises:
        ValueError: a product of the (finite) weights overflows float64.
    """
    m = net.supports(gates[:1])[0].size
    if not curve_by_gram(m, net.device):
        return depth_curve_warm(net, gates, depth, callback, info)
    out = torch.full((depth,), -math.inf, dtype=torch.float64, device=net.device)
    tol = 1e-10 if net.dtype == torch.float64 else 1e-6
    g = torch.Generator().manual_seed(0)
    chunk = curve_chunk(curve_cols(m), depth)
    for d0, grams, ells in prefix_grams(net, gates, depth, chunk) if m else ():
        c = grams.shape[0]
        if bool(torch.isposinf(ells).any() | torch.isnan(ells).any()):  # one host read per chunk
            raise ValueError(
                f"the product of the weights overflows float64 between depths {d0} and {d0 + c - 1}; "
                "rescale the weights (jacstab measures finite products only)"
            )
        top = top_eig_batched(grams, tol=tol, block=CURVE_BLOCK, round_steps=CURVE_ROUND_STEPS, generator=g)
        sq = top.values
        if not bool(top.converged.all()):  # host read once per chunk, only on this rare path
            bad = torch.nonzero(~top.converged).flatten()
            sq = sq.clone()
            sq[bad] = torch.linalg.eigvalsh(grams[bad])[:, -1].clamp(min=0)
            if info is not None:
                info.fallbacks += [
                    f"norm of the depth-{d0 + int(i)} prefix ({net.width} x {m}): Lanczos did not converge -> "
                    "dense eigenvalues of its Gram matrix"
                    for i in bad.tolist()
                ]
        out[d0 - 1 : d0 - 1 + c] = ells + 0.5 * torch.log(sq)
        if callback is not None:
            for d in range(d0, d0 + c):
                callback(d)
    return out.cpu()


def depth_curve_warm(
    net: Network,
    gates: list[Gate],
    depth: int,
    callback: Callable[[int], None] | None = None,
    info: RunInfo | None = None,
) -> torch.Tensor:
    """``log ||J^(d)||`` for ``d = 1..depth``, one norm per depth (warm-started Lanczos on ``F_d^T F_d``, SVD for
    small prefixes): faster on the CPU than the Gram stack when the prefixes are wide (:func:`curve_by_gram`)."""
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
