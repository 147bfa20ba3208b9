"""Pruning at initialisation and the scaling of kept weights (paper Section 4): the public names.

The code lives in :mod:`jacstab.nets.pruning`; this module is the stable import path users rely on
(``jacstab.pruning.masks_from_torch_prune``, ``jacstab.pruning.apply_masks``), the criteria
(:mod:`jacstab.nets.criteria`), schedules and ablations (:mod:`jacstab.nets.schedules`).
"""

from jacstab.nets.criteria import grasp_scores, keep_keys, snip_scores, synflow_log_scores, synflow_scores
from jacstab.nets.pruning import (
    apply_masks,
    apply_scaling,
    approx_isometry,
    isometry_defect,
    masks_from_torch_prune,
    random_masks,
    row_energy_factors,
)
from jacstab.nets.schedules import round_densities, scheduled_masks, shuffle_masks, top_masks

__all__ = [
    "apply_masks",
    "apply_scaling",
    "approx_isometry",
    "grasp_scores",
    "isometry_defect",
    "keep_keys",
    "masks_from_torch_prune",
    "random_masks",
    "round_densities",
    "row_energy_factors",
    "scheduled_masks",
    "shuffle_masks",
    "snip_scores",
    "synflow_log_scores",
    "synflow_scores",
    "top_masks",
]
