"""When is the input-output Jacobian exactly orthogonal? (Massucco, Murari, Schoenlieb, paper 003) - no torch.

``J = prod_k F_k`` is orthogonal for every input (almost everywhere) when every factor ``F_k`` is:

* ``F = W D`` with ``W`` orthogonal and ``D`` a signed permutation: ``abs`` (``D = diag(+-1)``), ``groupsort``
  (MaxMin on pairs: ``D`` = a permutation swapping some pairs), ``linear`` (``D = I``); the product of orthogonal
  matrices is orthogonal;
* ``F = I - 2 W^T D W`` (the reflection block) with ``W`` orthogonal and ``D`` a 0/1 diagonal (``relu``):
  ``W^T D W`` is an orthogonal projection, so ``F`` is a reflection.

With jacstab's weights ``W = sqrt(sigma2) O`` (``O`` Haar) this needs ``init='orthogonal'`` and ``sigma2 = 1``, no
pruning (a pruned orthogonal matrix is not orthogonal) and the forward gates. Then every singular value of
``J^(d)`` is exactly 1 at every depth: ``log ||J^(d)|| = 0``, all Lyapunov exponents 0, isometry defect 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SOURCE = "Massucco, Murari, Schoenlieb (paper 003): orthogonal weights with signed-permutation gates or reflections"
_PERMUTING = {"abs": "D = diag(+-1)", "groupsort": "D = a pair permutation", "linear": "D = I"}


def orthogonal_jacobian(spec: Any) -> str:
    """Why ``J^(d)`` is exactly orthogonal at every depth for every draw of ``spec``'s law, or ``""`` when not.

    Args:
        spec: a :class:`jacstab.NetSpec`.

    Returns:
        A one-line reason (non-empty) when every factor is orthogonal: orthogonal init, ``sigma2 = 1``, no pruning,
        forward gates, and either a plain layer ``W D`` with ``abs``/``groupsort``/``linear`` or the reflection block
        ``I - 2 W^T D W`` with ``relu``; else ``""``.
    """
    if spec.init != "orthogonal" or spec.sigma2 != 1.0 or spec.prune != "none":
        return ""
    if getattr(spec, "gates", "forward") != "forward" or getattr(spec, "residual", 0):
        return ""
    if getattr(spec, "block", "dense") == "reflection":
        return ("exact: every factor I - 2 W^T D W is a reflection (W orthogonal, D a 0/1 diagonal), so J is "
                "orthogonal and all singular values are 1")
    if spec.activation in _PERMUTING:
        return (f"exact: every factor W D is orthogonal (W orthogonal, {_PERMUTING[spec.activation]}), so J is "
                "orthogonal and all singular values are 1")
    return ""


def reflection_reason(spec: Any) -> str:
    """``"no prediction: ..."`` for a reflection-block law that is not exactly orthogonal, else ``""``."""
    if getattr(spec, "block", "dense") != "reflection" or orthogonal_jacobian(spec):
        return ""
    return ("no prediction: the reflection block I - 2 W^T D W is orthogonal only for orthogonal W (init="
            "'orthogonal', sigma2=1, unpruned); for other laws jacstab has no theory of it")


def isometric_curve(depth: int) -> np.ndarray:
    """``log ||J^(d)|| = 0`` for ``d = 1..depth`` (read-only), the exact curve of an orthogonal Jacobian."""
    out = np.zeros(depth)
    out.flags.writeable = False
    return out


# --- partial isometries ------------------------------------------------------------------------------------------

P_INACTIVE = {"relu": 0.5, "half_relu": 0.25}  # P(phi'(z) = 0) for symmetric pre-activations


def isometric_dimension(n: int, inactive: list[int] | tuple[int, ...]) -> int:
    """Dimension of the subspace on which ``J^(d) = W_d D_{d-1} ... W_1 D_0`` is an isometry, for orthogonal ``W``
    and 0/1 gates with ``inactive[k] = z_k`` zero entries (``k = 0..d-1``), in generic position.

    .. math:: \\dim V_d = \\max\\big(0,\\ n - \\textstyle\\sum_{k<d} z_k\\big)

    ``||J v|| = ||v||`` iff ``v`` passes every gate unchanged: ``V_d = cap_k (W_k ... W_1)^{-1} range(D_k)``, an
    intersection of subspaces of codimension ``z_k``; for Haar weights they are in generic position almost surely, so
    codimensions add. On ``V_d`` every singular value is exactly 1; the others are in ``[0, 1)`` (at ``d = 1`` they
    are 0: ``W D_0`` is a partial isometry).
    """
    return max(0, int(n) - int(sum(inactive)))


def isometric_fraction(activation: str, depth: int) -> float | None:
    """Expected ``dim V_d / n`` as ``n -> inf`` for orthogonal weights (``sigma2 = 1``) and 0/1 gates:
    ``max(0, 1 - d p_0)`` with ``p_0 = P(phi' = 0)`` (relu 1/2, half_relu 1/4; :func:`isometric_dimension` with
    ``z_k ~ p_0 n``); 1 for the exactly orthogonal gates (abs, groupsort, linear); ``None`` for others."""
    if activation in _PERMUTING:
        return 1.0
    if activation not in P_INACTIVE:
        return None
    return max(0.0, 1.0 - depth * P_INACTIVE[activation])
