"""Pruning at initialisation and the scaling of kept weights (paper Section 4): the public names.

The code lives in :mod:`jacstab.nets.pruning`; this module is the stable import path users rely on
(``jacstab.pruning.masks_from_torch_prune``, ``jacstab.pruning.apply_masks``).
"""

from jacstab.nets.pruning import (
    apply_masks,
    apply_scaling,
    masks_from_torch_prune,
    random_masks,
    row_energy_factors,
    snip_scores,
    top_masks,
)

__all__ = [
    "apply_masks",
    "apply_scaling",
    "masks_from_torch_prune",
    "random_masks",
    "row_energy_factors",
    "snip_scores",
    "top_masks",
]
