"""The correlated-weights group of a :class:`jacstab.specs.NetSpec` (paper Section 5), in its own module to keep
``specs`` short; import it from :mod:`jacstab.specs`."""

from __future__ import annotations

from dataclasses import dataclass

from jacstab._checks import CORRELATIONS, Correlation, check_choice, check_real


@dataclass(frozen=True)
class CorrelationModel:
    """The correlated-weights group of a :class:`NetSpec` (paper Section 5 and structured alternatives).

    Args:
        eta: the paper's ``W = W_ind + eta w`` (one shared ``w`` per layer; ``corr = eta^2/(1+eta^2)``), ``>= 0``.
        kind: ``none`` | ``row`` | ``col`` | ``ar1`` (see :mod:`jacstab.correlation`).
        rho: the target correlation of ``kind``, in ``[0, 1)``.
    """

    eta: float = 0.0
    kind: Correlation = "none"
    rho: float = 0.0

    def __post_init__(self) -> None:
        check_real("eta", self.eta, 0.0, 1e3)
        check_choice("correlation", self.kind, CORRELATIONS)
        check_real("rho", self.rho, 0.0, 0.999999)
        if self.kind == "none" and self.rho != 0.0:
            raise ValueError(f"rho={self.rho} needs a correlation kind (row, col or ar1)")

    @property
    def active(self) -> bool:
        """True when the weights are correlated."""
        return self.kind != "none" or self.eta > 0

    @property
    def pair_correlation(self) -> float:
        """The correlation the model targets: ``eta^2/(1+eta^2)`` for the paper's model, else ``rho``."""
        return self.eta**2 / (1 + self.eta**2) if self.eta > 0 else self.rho

    @property
    def variance_factor(self) -> float:
        """Entry variance relative to ``sigma2/n``: ``1 + eta^2`` (row/col/ar1 keep the variance)."""
        return 1.0 + self.eta**2
