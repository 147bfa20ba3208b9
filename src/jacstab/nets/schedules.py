"""Masks of a pruning spec: one-shot or iterative schedules, layer or global scope, and Frankle et al.'s ablations.

Iterative pruning in ``R`` rounds (``prune_rounds``): after round ``r`` the kept fraction is
``(1-s)^{r/R}`` (``exponential``, SynFlow's schedule, Tanaka et al. 2020) or ``1 - s r/R`` (``linear``); each
round re-scores the masked network and keeps the top entries among those still kept. The final count is exactly
``round((1-s) n^2)`` per matrix (``layer`` scope) or ``L`` times that over all matrices (``global``).

Ablations (Frankle, Dziugaite, Roy, Carbin 2021, "Pruning neural networks at initialization: why are we missing
the mark?", arXiv:2009.08576, Section 5): ``shuffle`` permutes each layer's mask uniformly (the per-layer densities
are kept, the positions lost); ``invert`` keeps the lowest keys instead of the highest; ``reinit`` keeps the mask
and re-draws the kept weights from the unpruned law (:func:`reinit_weights`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from jacstab.nets.streams import STREAM_ABLATION, generator
from jacstab.specs import Pruning


def round_densities(final_density: float, rounds: int, schedule: str) -> list[float]:
    """Kept fractions after rounds ``1..R``: ``d^{r/R}`` (exponential) or ``1 - (1-d) r/R`` (linear)."""
    if schedule == "exponential":
        return [final_density ** (r / rounds) for r in range(1, rounds + 1)]
    return [1.0 - (1.0 - final_density) * r / rounds for r in range(1, rounds + 1)]


def top_masks(scores: Sequence[torch.Tensor], keep: Sequence[int] | int, scope: str) -> list[torch.Tensor]:
    """Keep the largest scores: ``keep[k]`` per matrix (``scope='layer'``) or ``keep`` over all (``'global'``).

    Exactly that many entries are kept, even with ties (``topk`` picks among equal scores).
    """
    if scope == "global":
        flat = torch.cat([s.flatten() for s in scores])
        total = min(int(keep if isinstance(keep, int) else sum(keep)), flat.numel())
        keep_flat = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
        keep_flat[torch.topk(flat, total, sorted=False).indices] = True
        return [m.view_as(s) for m, s in zip(keep_flat.split([s.numel() for s in scores]), scores)]
    out = []
    for s, r in zip(scores, keep if not isinstance(keep, int) else [keep] * len(scores)):
        m = torch.zeros(s.numel(), dtype=torch.bool, device=s.device)
        m[torch.topk(s.flatten(), int(r), sorted=False).indices] = True
        out.append(m.view_as(s))
    return out


def scheduled_masks(keys_of: Callable[[list[torch.Tensor] | None], list[torch.Tensor]], shape: tuple[int, int],
                    depth: int, pruning: Pruning) -> list[torch.Tensor]:
    """Masks after ``pruning.n_rounds`` rounds of the schedule (one round: one-shot pruning).

    Args:
        keys_of: ``masks -> keep keys`` (larger keeps; ``masks=None`` for the unpruned network), e.g.
            :func:`jacstab.nets.criteria.keep_keys` bound to a network and batch.
        shape: ``(n, n)`` of each hidden matrix; depth: ``L``; pruning: the spec's group (sparsity or keep,
            scope, rounds, schedule, ``ablation='invert'``).

    Returns:
        ``L`` boolean masks; the final count per matrix (layer scope) is ``keep`` or ``round((1-s) n^2)``.
    """
    numel = shape[0] * shape[1]
    final = pruning.keep if pruning.keep is not None else max(1, round((1.0 - pruning.sparsity) * numel))
    masks = None
    densities = round_densities(final / numel, pruning.n_rounds, pruning.schedule)
    for r, density in enumerate(densities, 1):
        count = final if r == len(densities) else max(final, round(density * numel))
        keys = keys_of(masks)
        if pruning.ablation == "invert":
            keys = [-k for k in keys]
        if masks is not None:  # removed entries stay removed
            keys = [k.masked_fill(~m, float("-inf")) for k, m in zip(keys, masks)]
        masks = top_masks(keys, count * depth if pruning.scope == "global" else [count] * depth, pruning.scope)
    return masks


def shuffle_masks(masks: Sequence[torch.Tensor], seed: int) -> list[torch.Tensor]:
    """Each mask's entries permuted uniformly at random (stream ``(seed, STREAM_ABLATION, 1, k)``): the count of
    kept entries of every layer is unchanged."""
    out = []
    for k, m in enumerate(masks, 1):
        perm = torch.randperm(m.numel(), generator=generator(seed, STREAM_ABLATION, 1, k)).to(m.device)
        out.append(m.flatten()[perm].view_as(m))
    return out


def reinit_weights(weights: Sequence[torch.Tensor], masks: Sequence[torch.Tensor], seed: int,
                   draw: Callable[[int, torch.Generator], torch.Tensor]) -> list[torch.Tensor]:
    """Kept entries replaced by fresh draws ``draw(k, generator)`` of the unpruned law of ``W_k`` (stream
    ``(seed, STREAM_ABLATION, 2, k)``); removed entries keep their (about to be masked) values."""
    return [torch.where(m, draw(k, generator(seed, STREAM_ABLATION, 2, k)).to(w), w)
            for k, (w, m) in enumerate(zip(weights, masks), 1)]
