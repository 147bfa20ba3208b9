"""Public measurement functions: depth curves, singular values, Lyapunov exponents and the Jacobian operator.

Every quantity is computed in the log domain (a product kept as ``F e^ell`` with ``||F|| ~ 1``), so nothing
overflows or underflows at any depth; values are returned as natural logs where they could leave the float range.
The backend is chosen in one place (:mod:`jacstab.engine._resolve`); ``return_info=True`` says which ran.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from jacstab._checks import Method, check_int
from jacstab.engine._chain import depth_curve_dense, product_at, spectral_norm
from jacstab.engine._krylov import top_eigs
from jacstab.engine._masks import check_depth, check_input, check_network, misuse_hint
from jacstab.engine._resolve import (
    RunInfo,
    lanczos_block,
    plan_callable,
    plan_depth_curve,
    plan_network,
    plan_operator,
)
from jacstab.engine.operators import FuncJacobian, JacobianOperator, MatrixFreeChain
from jacstab.engine.spectral import lyapunov
from jacstab.nets.network import Network
from jacstab.nets.sampling import sample
from jacstab.nets.streams import STREAM_INDEPENDENT, child_seed


def _check_k(k: int | None, limit: int) -> int:
    return limit if k is None else min(check_int("k", k, 1), limit)


def _finish(logs: torch.Tensor, total: int, k: int, log: bool) -> torch.Tensor:
    """Sort descending, pad with exact zeros (``-inf`` logs) up to ``total``, keep ``k``, exponentiate if asked."""
    logs = torch.sort(logs.detach().to(torch.float64).cpu(), descending=True).values  # plain numbers out
    if logs.numel() < k:
        logs = torch.cat([logs, torch.full((k - logs.numel(),), -math.inf, dtype=torch.float64)])
    logs = logs[:k]
    if log:
        return logs
    if bool((logs > math.log(torch.finfo(torch.float64).max)).any()):
        raise OverflowError("singular values exceed the float64 range at this depth; pass log=True")
    return torch.exp(logs)


def depth_curve(
    net: Network,
    x: torch.Tensor | None = None,
    *,
    method: Method = "auto",
    independent: bool = False,
    callback: Callable[[int], None] | None = None,
    return_info: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, RunInfo]:
    """``log ||J^(d)||_2`` for ``d = 1..L`` (natural log, float64, shape ``(L,)``).

    .. math:: J^{(d)} = W_d D_{d-1} \\cdots W_1 D_0, \\qquad D_k = \\mathrm{diag}(\\phi'(Y_k))

    (Dadoun et al. 2025, eq. 2; the paper's Figures 1-4 plot ``||J^(d)||`` against ``d``.) With ``method="auto"``
    or ``"dense"`` one pass over the layers forms the prefix products ``J^(d)`` restricted to active units
    (``~n^3/4`` multiply-adds a layer for ReLU instead of ``n^3``). Up to ``CURVE_GRAM_MAX_COLS`` active input
    units on the CPU (at any width on a GPU), each prefix's Gram matrix ``J^(d)T J^(d)`` (restricted to active
    columns, float64) is formed while the prefix is in cache and ``||J^(d)||^2`` is its top eigenvalue from batched
    Lanczos over a stack of depths, with no host synchronisation inside a round (the GPU path); wider prefixes on
    the CPU use one Lanczos per depth on ``J^(d)T J^(d)``, warm-started with the previous depth's top right singular
    vector. Relative accuracy ``1e-10`` in float64, ``1e-6`` in float32 (stopping rule on the Ritz residual), with a
    dense fallback. ``lanczos``, ``jacrev`` and ``jvp`` compute each depth separately with that backend of
    :func:`singular_values` (``L`` times the work; for cross-checks).

    Args:
        net: a sampled network; x: raw input of shape ``(in_dim,)`` (default: the spec's normalised input).
        method: ``auto`` | ``dense`` | ``lanczos`` | ``jacrev`` | ``jvp``.
        independent: the prefixes of one network share their first layers, so the curve's points are correlated
            (each ``J^(d)`` still has exactly the law of a depth-``d`` network's Jacobian). With ``True`` every depth
            uses an independently drawn depth-``d`` network from ``net.spec`` (the paper's protocol), at
            ``L(L+1)/2`` layer products instead of ``L``. Only for sampled networks (a network masked from outside
            cannot be redrawn from its spec).
        callback: called with ``d`` after each depth (progress reporting).
        return_info: also return a :class:`~jacstab.engine._resolve.RunInfo` (method, fallbacks).

    Returns:
        The curve (``-inf`` at depths where ``J^(d) = 0`` exactly), and the RunInfo if asked.

    Raises:
        TypeError: ``net`` is not a Network. ValueError: bad ``x`` or ``method``; ``independent`` with a masked net.
    """
    net = check_network(net)
    x = check_input(net, x)
    plan = plan_depth_curve(method)
    info = RunInfo(method, plan.method, plan.reason)
    if independent and net.provenance.kind != "sampled":
        raise ValueError(
            f"independent=True redraws a network per depth from net.spec, which would drop what was done to this "
            f"network ({net.provenance.describe()}); measure it with independent=False"
        )
    if not independent and info.method == "dense":
        out = depth_curve_dense(net, net.gates(x), net.depth, callback, info)
        return (out, info) if return_info else out
    out = torch.empty(net.depth, dtype=torch.float64)
    for d in range(1, net.depth + 1):
        sub = net
        if independent:
            sub = sample(net.spec.replace(depth=d), child_seed(net.seed, STREAM_INDEPENDENT, d), net.dtype, net.device)
        sub_info = RunInfo(method, info.method, info.reason)
        logs, total = _svals_network(sub, x, 1, d, sub_info)  # net and x checked once, above
        out[d - 1] = _finish(logs, total, 1, True)[0]
        info.fallbacks += [f"depth {d}: {f}" for f in sub_info.fallbacks]
        if callback is not None:
            callback(d)
    return (out, info) if return_info else out


def log_norm(net: Network, x: torch.Tensor | None = None, depth: int | None = None, method: Method = "auto") -> float:
    """``log ||J^(depth)||_2`` (natural log) at one depth (paper eq. 2), the top value of :func:`singular_values`.

    Args:
        net: a sampled Network; x: raw input (default the normalised input); depth: ``1..L`` (default ``L``);
        method: as :func:`singular_values`.

    Returns:
        The natural log of the spectral norm (``-inf`` when ``J = 0`` exactly).

    Raises:
        TypeError, ValueError: as :func:`singular_values`.
    """
    return float(singular_values(net, x, k=1, depth=depth, method=method, log=True)[0])


def jacobian_operator(
    obj: Network | Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor | None = None,
    *,
    depth: int | None = None,
    method: Method = "auto",
) -> JacobianOperator | None:
    """The Jacobian as a :class:`~jacstab.engine.operators.JacobianOperator` ``A`` with ``J = e^{log_scale} A``.

    For a Network, ``J^(depth)`` on the active input units ``a_0`` (other columns of ``J`` are zero): ``dense``
    forms the product in the log domain, ``lanczos`` (default for ``auto``) applies the layers matrix-free,
    ``jacrev``/``jvp`` go through ``torch.func`` on :meth:`Network.hidden_map` (all input units). For a callable
    ``f``, ``df/dx`` at ``x`` through ``torch.func``. Use ``op @ v``, ``op.rmatmat(u)``, ``op.dense()`` or
    ``op.to_scipy()`` (``scipy.sparse.linalg.svds(op.to_scipy(), k)`` gives the same singular values).

    Args:
        obj: a sampled Network or a torch callable; x: its input (Network: default the normalised input;
            callable: required, 1-D). depth: ``1..L`` (Network only). method: ``auto`` | ``dense`` | ``lanczos`` |
            ``jacrev`` | ``jvp`` (callables: ``dense``/``jacrev`` give an operator whose ``dense()`` is jacrev).

    Returns:
        The operator, or ``None`` for a Network whose ``J^(depth)`` is exactly zero (every unit of some gate off).

    Raises:
        TypeError: ``obj`` is neither. ValueError: bad ``x``, ``depth``, ``method``; non-finite weights or output.
    """
    if not isinstance(obj, Network):
        if depth is not None:
            raise ValueError("depth applies to a jacstab Network only; for a callable, pass the function itself")
        plan = plan_callable(1, None, method)  # validates; dense/jacrev -> "jacrev", lanczos/jvp/auto -> "jvp"
        return FuncJacobian(obj, _callable_input(obj, x), "jacrev" if plan.method == "jacrev" else "jvp")
    net = check_network(obj)
    x, depth = check_input(net, x), check_depth(net, depth)
    m = plan_operator(method).method
    if m in ("jacrev", "jvp"):
        return FuncJacobian(lambda y: net.hidden_map(y, depth), net.input_map(x), m)
    gates = net.gates(x, depth)
    if min(g.size for g in net.supports(gates)) == 0:
        return None
    return MatrixFreeChain(net, gates, depth) if m == "lanczos" else product_at(net, gates, depth)


def _callable_input(f, x: torch.Tensor | None) -> torch.Tensor:
    if not callable(f):
        raise TypeError(f"obj must be a jacstab Network or a torch callable, got {type(f).__name__}{misuse_hint(f)}")
    if x is None:
        raise ValueError("x is required when the object is a torch callable (the point where J = df/dx is taken)")
    if not isinstance(x, torch.Tensor) or x.dim() != 1 or x.numel() == 0:
        raise ValueError(f"x must be a non-empty 1-D torch.Tensor, got {getattr(x, 'shape', type(x).__name__)}")
    if not x.is_floating_point() or not bool(torch.isfinite(x).all()):
        raise ValueError("x must be a finite floating-point tensor")
    return x


def _top_k(op: JacobianOperator, k: int, block: int | None = None) -> torch.Tensor | None:
    """``log`` of the top-``k`` singular values of ``op`` by block Lanczos on ``A^T A`` (None if not converged)."""
    kk = min(k, op.shape[1])
    r = top_eigs(op.gram, op.shape[1], kk, dtype=op.dtype, device=op.device, block=block)
    if not r.converged:
        return None
    return op.log_scale + 0.5 * torch.log(r.values)


def _svals_network(net: Network, x, k: int, depth: int, info: RunInfo) -> tuple[torch.Tensor, int]:
    """``log`` singular values of a checked network (``x``, ``k``, ``depth`` already validated)."""
    n = net.width
    if info.method in ("jacrev", "jvp"):
        op = FuncJacobian(lambda y: net.hidden_map(y, depth), net.input_map(x), info.method)
        return _svals_func(op, k, info), n
    gates = net.gates(x, depth)  # only the analytic paths need the gates
    if min(g.size for g in net.supports(gates)) == 0:
        return torch.empty(0), n
    if info.method == "lanczos":
        op = MatrixFreeChain(net, gates, depth)
        logs = _top_k(op, k, block=lanczos_block(k, op.shape[1]))
        if logs is not None:
            return logs, n
        info.fell_back("dense", "Lanczos did not converge within its Krylov budget")
    op = product_at(net, gates, depth)
    if op is None:
        return torch.empty(0), n
    s = torch.tensor([spectral_norm(op.f, info=info)[0]], dtype=torch.float64) if k == 1 else torch.linalg.svdvals(op.f)
    return op.log_scale + torch.log(s), n


def _svals_func(op: FuncJacobian, k: int | None, info: RunInfo) -> torch.Tensor:
    if info.method == "jvp":
        logs = _top_k(op, _check_k(k, min(op.shape)))
        if logs is not None and not bool(torch.isnan(logs).any() or torch.isposinf(logs).any()):
            return logs
        why = "did not converge within its Krylov budget" if logs is None else "produced nan or inf"
        info.fell_back("jacrev", f"jvp Lanczos {why}")
    j = op.dense()
    if not bool(torch.isfinite(j).all()):
        raise ValueError("the Jacobian of the callable at x has nan or inf entries (check the function and x)")
    return torch.log(torch.linalg.svdvals(j))


def singular_values(
    obj: Network | Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor | None = None,
    k: int | None = None,
    depth: int | None = None,
    method: Method = "auto",
    *,
    log: bool = False,
    return_info: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, RunInfo]:
    """Singular values ``sigma_1 >= sigma_2 >= ...`` of the Jacobian, descending (float64, on the CPU).

    For a :class:`~jacstab.Network`: ``J^(depth) = W_depth D_{depth-1} ... W_1 D_0 = dY_depth/dY_0`` (paper eq. 2),
    all ``n`` values (``k=None``) or the top ``k``. For any torch callable ``f: R^m -> R^m'``: ``J = df/dx`` at
    ``x`` (required), ``min(m, m')`` values.

    Methods (every one selectable, all agree to the dtype's tolerance where they apply; the choice for ``auto``
    and every threshold live in :mod:`jacstab.engine._resolve`):

    * ``dense``: the product formed in the log domain on active units, then ``svdvals`` (or Lanczos for ``k=1``).
      Values below ``eps * sigma_1`` are not resolved (backward stability of the SVD).
    * ``lanczos``: matrix-free block Lanczos on ``J^T J`` through the masked layers (``~L n^2/4`` multiply-adds
      per vector for ReLU); top-``k`` only; falls back to ``dense`` when it does not converge.
    * ``jacrev``: ``torch.func.jacrev`` + ``torch.linalg.svdvals`` (the baseline; no log domain, overflows deep).
    * ``jvp``: matrix-free Lanczos with ``torch.func`` jvp/vjp (any callable); falls back to ``jacrev``.
    * ``auto``: ``lanczos`` for width >= 1024 (8192 on a GPU) and ``k <= n/8``, else ``dense`` (Network);
      ``jacrev`` for callables unless ``k`` is small and ``m > 1024``.

    Args:
        obj: a sampled Network or a torch callable; x: the input (Network: raw input of shape ``(in_dim,)``,
            default the normalised input; callable: required, 1-D).
        k: how many (default all); depth: ``1..L`` (Network only, default ``L``); method: see above.
        log: return ``log sigma_i`` (``-inf`` for exact zeros) instead of ``sigma_i``.
        return_info: also return the :class:`~jacstab.engine._resolve.RunInfo` (method that ran, fallbacks).

    Raises:
        TypeError: ``obj`` is neither. ValueError: bad ``x``, ``k``, ``depth`` or ``method``.
        OverflowError: when ``log=False`` and a value exceeds the float64 range.
    """
    if isinstance(obj, Network):
        obj = check_network(obj)
        x, depth, kk = check_input(obj, x), check_depth(obj, depth), _check_k(k, obj.width)
        plan = plan_network(obj.width, kk, method, obj.device)
        info = RunInfo(method, plan.method, plan.reason)
        logs, total = _svals_network(obj, x, kk, depth, info)
    else:
        if depth is not None:
            raise ValueError("depth applies to a jacstab Network only; for a callable, pass the function itself")
        x = _callable_input(obj, x)
        plan = plan_callable(x.numel(), k, method)
        info = RunInfo(method, plan.method, plan.reason)
        op = FuncJacobian(obj, x)
        logs = _svals_func(op, k, info)
        total = min(op.shape)  # rank bound: J is m' x m
        kk = _check_k(k, total)
    out = _finish(logs, total, kk, log)
    return (out, info) if return_info else out


def lyapunov_exponents(
    net: Network, x: torch.Tensor | None = None, k: int | None = None, *, seed: int = 0
) -> torch.Tensor:
    """Top-``k`` (default all ``n``) per-layer Lyapunov exponents of ``J = W_L D_{L-1} ... W_1 D_0``, descending.

    .. math:: \\lambda_i = \\frac{1}{L} \\sum_{d=1}^{L} \\log |R_d[i,i]|,\\qquad
              W_d D_{d-1} Q_{d-1} = Q_d R_d\\ \\text{(QR)}

    Benettin's QR method (Benettin, Galgani, Giorgilli, Strelcyn 1980); as ``L -> inf`` these are the Lyapunov
    exponents of the product (Oseledets); for Gaussian ``N(0, sigma2/n)`` linear layers they tend to
    ``(log(2 sigma2/n) + psi((n-i+1)/2))/2`` (Newman 1986), see ``jacstab.theory``. Natural log, float64.
    ``seed`` fixes the random initial frame. Directions beyond the rank of ``J`` get ``-inf``. Residual networks
    (factors ``I + alpha W_d D_{d-1}``) too. The exponents of :func:`jacstab.lyapunov`, which also returns their
    standard errors, the per-layer terms and the final frame.

    Raises:
        TypeError: ``net`` is not a Network. ValueError: bad ``x``, ``k`` or ``seed``.
    """
    return lyapunov(net, x, k, seed=seed).exponents
