"""Pruning-at-initialisation criteria: the scores that rank the weights of the hidden matrices.

Every function returns one tensor per hidden matrix, the *keep key*: larger keeps. For the data criteria the loss
is the cross-entropy of the network's own batched forward pass on a batch ``(x, y)``.

* ``magnitude``: ``|w|``.
* ``snip`` (Lee, Ajanthan, Torr 2019, arXiv:1810.02340): ``|w * dL/dw|``, the largest are kept.
* ``grasp`` (Wang, Zhang, Grosse 2020, arXiv:2002.07376): the score ``S = -w * (H g)`` with ``g = dL/dw`` and ``H``
  the Hessian of ``L``; GraSP removes the largest ``S`` (to first order, removing them lowers the gradient norm
  ``g^T g`` least or raises it), i.e. keeps the smallest: the keep key is ``-S = w * (H g)``.
  ``H g`` is a Hessian-vector product through ``torch.func`` (forward-over-reverse: ``jvp`` of ``grad``).
* ``synflow`` (Tanaka, Kunin, Yamins, Ganguli 2020, arXiv:2006.05467): data-free. With every weight replaced by
  its absolute value and an all-ones input, ``R = 1^T |W_out| |W_L| ... |W_1| |W_in| 1`` and the score is
  ``|w| * dR/d|w|``; for layer ``k`` that is ``|W_k| o (a_k b_k^T)`` with ``a_k = (1^T |W_out| |W_L| ... |W_{k+1}|)^T``
  and ``b_k = |W_{k-1}| ... |W_1| |W_in| 1`` (the activation is not applied: SynFlow linearises the network, and
  with non-negative weights and input a ReLU network is linear). Computed in the log domain, then divided by the
  largest score of the network (ranks, per layer and global, are unchanged; depth 1000 does not overflow).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from jacstab.nets.network import Network


def _loss(net: Network, ws, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(net.replace(weights=list(ws))(x), y)


def snip_scores(net: Network, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """SNIP saliencies ``|w * dL/dw|`` of the hidden matrices for cross-entropy on the batch ``(x, y)``.

    Args:
        net: the network (its current, possibly masked, hidden weights are scored).
        x: ``(batch, d)`` inputs; y: ``(batch,)`` integer labels in ``[0, out_dim)``.

    Returns:
        One non-negative ``n x n`` tensor per hidden matrix (Lee et al. 2019, arXiv:1810.02340, eq. 3).
    """
    ws = [w.detach().clone().requires_grad_(True) for w in net.weights]
    grads = torch.autograd.grad(_loss(net, ws, x, y), ws)
    return [(w.detach() * g).abs() for w, g in zip(ws, grads)]


def grasp_scores(net: Network, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """GraSP scores ``S = -w o (H g)`` (Wang et al. 2020, arXiv:2002.07376, eq. 8) of the hidden matrices.

    ``g = dL/dw`` and ``H = d^2 L / dw^2`` for the cross-entropy ``L`` on ``(x, y)``; ``H g`` is computed as
    ``jvp(grad(L), (w,), (g,))`` (``torch.func``, forward-over-reverse: one forward and about three backward passes'
    cost). GraSP removes the weights with the *largest* ``S`` (``masks`` keep the smallest; see
    :func:`keep_keys`). The original implementation divides the loss by a temperature ``T = 200``; the ranking of a
    single Hessian-gradient product does not depend on a global positive scale of ``S``, but the temperature does
    change ``H g``: jacstab uses ``T = 1`` (plain cross-entropy), as the Synaptic-Flow reproduction's default.

    Returns:
        One ``n x n`` tensor (any sign) per hidden matrix.
    """
    ws = tuple(w.detach() for w in net.weights)

    def loss(*params):
        return _loss(net, params, x, y)

    g = torch.func.grad(loss, argnums=tuple(range(len(ws))))(*ws)
    g = tuple(t.detach() for t in g)
    _, hg = torch.func.jvp(lambda *p: torch.func.grad(loss, argnums=tuple(range(len(p))))(*p), ws, g)
    return [-(w * h).detach() for w, h in zip(ws, hg)]


def _log_matvec(log_a: torch.Tensor, log_v: torch.Tensor) -> torch.Tensor:
    """``log(A v)`` from ``log A`` (``-inf`` for zeros) and ``log v``: a log-sum-exp over the inner index."""
    return torch.logsumexp(log_a + log_v[None, :], dim=1)


def synflow_log_scores(net: Network, masks: Sequence[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """``log`` of the SynFlow scores ``|W_k| o (a_k b_k^T)`` of the hidden matrices (``-inf`` where ``w = 0``).

    ``masks`` (optional): the current masks (iterative SynFlow scores the masked network). Data-free: only the
    absolute weights enter (Tanaka et al. 2020, arXiv:2006.05467, Section 5).
    """
    ws = [w.detach().to(torch.float64) for w in net.weights]
    if masks is not None:
        ws = [w * m for w, m in zip(ws, masks)]
    logs = [w.abs().log() for w in ws]
    log_b = torch.logsumexp(net.w_in.detach().to(torch.float64).abs().log(), dim=1)  # log(|W_in| 1)
    bs = []
    for lw in logs:
        bs.append(log_b)
        log_b = _log_matvec(lw, log_b)
    log_a = torch.logsumexp(net.w_out.detach().to(torch.float64).abs().log(), dim=0)  # log(1^T |W_out|)
    out = [None] * len(logs)
    for k in range(len(logs) - 1, -1, -1):
        out[k] = logs[k] + log_a[:, None] + bs[k][None, :]
        log_a = _log_matvec(logs[k].T, log_a)
    return out


def synflow_scores(net: Network, masks: Sequence[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """SynFlow scores ``|w| * dR/d|w|`` divided by the largest one of the network (so they lie in ``[0, 1]``).

    See :func:`synflow_log_scores`; ``R = 1^T |W_out| |W_L| ... |W_1| |W_in| 1`` on an all-ones input.
    """
    logs = synflow_log_scores(net, masks)
    top = max(float(s.max()) for s in logs)
    return [torch.exp(s - top) for s in logs]


def keep_keys(method: str, net: Network, batch=None, masks=None) -> list[torch.Tensor]:
    """The keys ``masks`` rank (larger keeps) for ``method`` on ``net`` (``batch = (x, y)`` for snip/grasp).

    ``magnitude``: ``|w|``; ``snip``: ``|w dL/dw|``; ``grasp``: ``w (H g)`` (= minus the GraSP score);
    ``synflow``: the log SynFlow score (``-inf`` for removed weights). ``masks``: the current masks (iterative
    pruning scores the masked network).
    """
    if method == "synflow":
        return synflow_log_scores(net, masks)
    if masks is not None:
        net = net.replace(weights=[w * m for w, m in zip(net.weights, masks)])
    if method == "magnitude":
        return [w.abs() for w in net.weights]
    if method == "snip":
        return snip_scores(net, *batch)
    if method == "grasp":
        return [-s for s in grasp_scores(net, *batch)]
    raise ValueError(f"no scores for prune={method!r}")
