"""Width-changing orthogonal layers: Jacobians that are partial isometries at every depth (paper 003) - no torch.

The network of :func:`jacstab.partial_isometry_net` maps ``Y_0 in R^{n_0}`` to ``Y_L in R^{n_L}`` by
``Y_k = W_k phi(Y_{k-1})`` with ``W_k`` an ``n_k x n_{k-1}`` Haar semi-orthogonal matrix (orthonormal rows when
``n_k <= n_{k-1}``, orthonormal columns when ``n_k >= n_{k-1}``) and a gate ``phi`` whose derivative is a signed
permutation ``P_k`` almost everywhere (``abs``: ``diag(+-1)``; ``groupsort``: a pair permutation; ``linear``: ``I``).
Its Jacobian at depth ``d`` is ``J^(d) = F_d ... F_1`` with ``F_k = W_k P_{k-1}``.

Derivation. ``P P^T = P^T P = I``, so

* a narrowing factor (``n_k <= n_{k-1}``, ``W_k W_k^T = I``) is a co-isometry: ``F_k F_k^T = W_k P P^T W_k^T = I``;
* a widening factor (``n_k >= n_{k-1}``, ``W_k^T W_k = I``) is an isometry: ``F_k^T F_k = P^T W_k^T W_k P = I``.

Products of co-isometries are co-isometries (``A B B^T A^T = I``) and of isometries isometries. For widths that
narrow and then widen (a bottleneck ``n_0 >= ... >= n_m <= ... <= n_L``; monotone sequences are the special cases),
``J^(d) = B A`` with ``A`` a co-isometry (``A A^T = I_{m_d}``) and ``B`` an isometry (``B^T B = I``), hence

.. math::
    J^T J = A^T B^T B A = A^T A, \\qquad m_d = \\min_{0 \\le k \\le d} n_k,

an orthogonal projection of rank ``m_d`` on ``R^{n_0}``. So ``J^(d)`` is a partial isometry: exactly ``m_d``
singular values equal 1 and the other ``min(n_0, n_d) - m_d`` equal 0; it is an isometry on the ``m_d``-dimensional
row space of ``A`` and zero on its complement. The isometric fraction of input directions is

.. math:: r_d = m_d / n_0 \\quad (= n_d / n_0 \\text{ when narrowing}, = 1 \\text{ when widening}),

for every draw and almost every input (no dependence on the seed, unlike ReLU gates, whose isometric subspace
shrinks by ``p_0 n`` per layer: :func:`jacstab.theory.isometric_fraction`), and the isometry defect
``||J^T J - I||_F / sqrt(n_0) = ||I - A^T A||_F / sqrt(n_0) = sqrt(1 - r_d)``.

Widths that widen and then narrow are excluded: for ``n_0 < n_1 > n_2``, ``W_2 P W_1`` compresses an isometry by a
co-isometry, and its singular values are the cosines of the principal angles between ``range(P W_1)`` and the row
space of ``W_2``, strictly inside ``(0, 1)`` for Haar weights.

References:
    Massucco, Murari, Schoenlieb, "Neural networks with orthogonal Jacobian", arXiv 2508.02882 (paper 003;
    abstract: partial isometries extend the construction).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from jacstab._checks import check_choice, is_int

PARTIAL_GATES: tuple[str, ...] = ("groupsort", "abs", "linear")  # derivative a signed permutation a.e.
MAX_PARTIAL_DEPTH = 100_000


def check_widths(widths: Sequence[int], activation: str = "groupsort") -> tuple[int, ...]:
    """Validate the widths ``(n_0, ..., n_L)`` of :func:`jacstab.partial_isometry_net` and return them as a tuple.

    Raises:
        ValueError: fewer than 2 widths, a width that is not an integer ``>= 1``, widths that widen and then narrow
            (not a partial isometry; see the module docstring), ``activation`` not in ``groupsort``, ``abs``,
            ``linear``, or an odd gated width ``n_0..n_{L-1}`` with ``groupsort`` (it sorts pairs). Each message
            says how to fix it.
    """
    check_choice("activation", activation, PARTIAL_GATES)
    if isinstance(widths, (str, bytes)) or not isinstance(widths, (Sequence, np.ndarray)):
        raise ValueError(f"widths must be a sequence of integers (n_0, ..., n_L), e.g. (64, 48, 32), got {widths!r}")
    widths = list(widths)
    if not 2 <= len(widths) <= MAX_PARTIAL_DEPTH + 1:
        raise ValueError(f"widths needs 2 to {MAX_PARTIAL_DEPTH + 1} entries (the input width and one per layer), "
                         f"got {len(widths)}: give e.g. (64, 32)")
    bad = [w for w in widths if not is_int(w) or w < 1]
    if bad:
        raise ValueError(f"every width must be an integer >= 1, got {bad[0]!r} in {list(widths)}")
    w = tuple(int(v) for v in widths)
    rises = [k for k in range(len(w) - 1) if w[k + 1] > w[k]]
    falls = [k for k in range(rises[0] + 1, len(w) - 1) if w[k + 1] < w[k]] if rises else []
    if falls:
        r, k = rises[0], falls[0]
        raise ValueError(
            f"widths {list(w)} widen and then narrow (n_{r + 1} = {w[r + 1]} > n_{r} = {w[r]}, then n_{k + 1} = "
            f"{w[k + 1]} < n_{k} = {w[k]}): the Jacobian is then a contraction, not a partial isometry; give "
            "widths that narrow and then widen (non-increasing, non-decreasing, or a bottleneck)")
    if activation == "groupsort":
        odd = [(k, v) for k, v in enumerate(w[:-1]) if v % 2]
        if odd:
            k, v = odd[0]
            raise ValueError(f"groupsort sorts pairs of units, so every gated width n_0..n_{{L-1}} must be even; "
                             f"n_{k} = {v} is odd: use {v + 1}, or activation='abs'")
    return w


def partial_isometry_dims(widths: Sequence[int]) -> np.ndarray:
    """Rank ``m_d = min(n_0, ..., n_d)`` of ``J^(d)``, ``d = 1..L``: its number of singular values equal to 1 (the
    others, ``min(n_0, n_d) - m_d`` of them, are 0), i.e. the isometric dimension (module docstring).

    Args:
        widths: ``(n_0, ..., n_L)``, validated by :func:`check_widths`.

    Returns:
        ``(L,)`` int64 array (read-only).
    """
    w = check_widths(widths, "abs")
    out = np.minimum.accumulate(np.asarray(w, dtype=np.int64))[1:]
    out.flags.writeable = False
    return out


def partial_isometry_fraction(widths: Sequence[int]) -> np.ndarray:
    """The isometric fraction ``r_d = m_d / n_0`` of input directions at depth ``d = 1..L`` (``n_d / n_0`` for
    narrowing widths, 1 for widening), exactly, for every draw (module docstring; paper 003)."""
    out = partial_isometry_dims(widths) / float(widths[0])
    out.flags.writeable = False
    return out


def partial_isometry_defect(widths: Sequence[int]) -> np.ndarray:
    """The isometry defect ``||J^T J - I||_F / sqrt(n_0) = sqrt(1 - r_d)`` at ``d = 1..L`` (``J^T J`` is a projection
    of rank ``m_d``, so ``J^T J - I`` has ``n_0 - m_d`` eigenvalues ``-1`` and the rest 0; module docstring)."""
    out = np.sqrt(1.0 - partial_isometry_fraction(widths))
    out.flags.writeable = False
    return out
