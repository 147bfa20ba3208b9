"""Keeping the Jacobian near orthogonal during training (Massucco, Murari, Schoenlieb, paper 003).

Two tools for :func:`jacstab.train`:

* :func:`jacobian_penalty`, the Jacobian-orthogonality regulariser (``jac_reg = mu``, ``jac_probes = p``)

  .. math::
      R(W) = \\mu\\, \\frac1p \\sum_{i=1}^p \\big\\|J_i^T J_i v_i - v_i\\big\\|^2,\\qquad
      J_i = \\frac{\\partial Y_L}{\\partial Y_0}\\Big|_{Y_0 = W_{in} x_i},\\quad v_i = \\epsilon_i/\\sqrt n

  with ``x_i`` the first ``p`` examples of the (shuffled) minibatch and ``epsilon_i`` Rademacher vectors. As
  ``E[v v^T] = I/n``, ``E_v ||(J^T J - I) v||^2 = ||J^T J - I||_F^2 / n``: the squared isometry defect of
  :func:`jacstab.isometry_defect` (Hutchinson's estimator, one probe per example). ``J v`` is one forward-mode
  ``torch.func.jvp`` and ``J^T (J v)`` one ``torch.func.vjp`` through the network's own forward map; both compose
  with autograd, so ``R`` is differentiable in the weights (a second-order term: the backward pass goes through the
  jvp and vjp). Cost per step with ``p`` probes: about two batch-``p`` forward/backward passes.
* :class:`OrthogonalHidden`, a trainable orthogonal parametrisation of the hidden matrices for
  ``init='orthogonal'``: ``W_k = g Q_k`` with ``Q_k`` kept exactly orthogonal by
  ``torch.nn.utils.parametrizations.orthogonal`` (Cayley map, initialised at the sampled ``Q_k``), ``g = sqrt(sigma2)``.
  With ``abs``/``groupsort`` gates at ``sigma2 = 1`` (or the reflection block) the Jacobian then stays exactly
  orthogonal through training.
"""

from __future__ import annotations

import torch
from torch.func import jvp, vjp

from jacstab.nets.network import Network

STREAM_PROBES = 21  # the regulariser's probe vectors; independent of the sampling and batch-order streams


def probe_vectors(p: int, n: int, *, generator: torch.Generator, dtype: torch.dtype, device=None) -> torch.Tensor:
    """``p`` Rademacher vectors scaled by ``1/sqrt(n)`` (``(p, n)``, ``E[v v^T] = I/n``), drawn on the CPU from
    ``generator`` and moved to ``device``."""
    eps = torch.randint(0, 2, (p, n), generator=generator, dtype=torch.int8).to(dtype) * 2 - 1
    return (eps / n**0.5).to(device)


def jacobian_penalty(model: Network, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``(1/p) sum_i ||J_i^T J_i v_i - v_i||^2`` (module docstring), differentiable in ``model``'s weights.

    Args:
        model: a :class:`~jacstab.Network` whose tensors may require grad (the training loop's trainable copy).
        x: ``(p, in_dim)`` inputs; v: ``(p, n)`` probe vectors (:func:`probe_vectors`).

    Returns:
        A scalar tensor (the mean over the ``p`` probes).

    Raises:
        ValueError: ``x`` and ``v`` do not have ``p`` rows each, or ``v`` is not ``n`` wide.
    """
    if x.dim() != 2 or v.shape != (x.shape[0], model.width):
        raise ValueError(f"x must be (p, in_dim) and v (p, {model.width}); got {tuple(x.shape)} and {tuple(v.shape)}")
    y0 = model.input_map(x)
    f = model.hidden_map  # row-wise: the batched map's Jacobian is block diagonal, one J_i per row
    _, jv = jvp(f, (y0,), (v,))
    _, pull = vjp(f, y0)
    (jtjv,) = pull(jv)
    return (jtjv - v).pow(2).sum(dim=1).mean()


class OrthogonalHidden:
    """Trainable hidden matrices ``W_k = g Q_k`` with ``Q_k`` exactly orthogonal (module docstring).

    Args:
        weights: the sampled ``g Q_k`` (square; orthogonal up to the gain ``g``), on the training device and dtype.
        gain: ``g = sqrt(sigma2)``.

    Raises:
        ValueError: a matrix is not square or ``Q_k = W_k / g`` is not orthogonal to ``1e-4`` (float32 rounding).
    """

    def __init__(self, weights: list[torch.Tensor], gain: float) -> None:
        self.gain, self.modules = gain, []
        for k, w in enumerate(weights, 1):
            n = w.shape[0]
            q = w.detach() / gain
            if w.shape != (n, n) or not torch.allclose(q.T @ q, torch.eye(n, dtype=q.dtype, device=q.device),
                                                       atol=1e-4):
                raise ValueError(f"hidden matrix W_{k} is not gain * orthogonal: the orthogonal parametrisation "
                                 "needs init='orthogonal' and no pruning")
            lin = torch.nn.Linear(n, n, bias=False, device=w.device, dtype=w.dtype)
            with torch.no_grad():
                lin.weight.copy_(q)
            self.modules.append(torch.nn.utils.parametrizations.orthogonal(lin, orthogonal_map="cayley"))

    def parameters(self) -> list[torch.Tensor]:
        """The unconstrained tensors the optimiser updates."""
        return [p for m in self.modules for p in m.parameters()]

    def weights(self) -> list[torch.Tensor]:
        """The current ``[g Q_1, ..., g Q_L]`` (recomputed from the parameters: call once per step)."""
        return [self.gain * m.weight for m in self.modules]
