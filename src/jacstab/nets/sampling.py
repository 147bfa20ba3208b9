"""From a :class:`~jacstab.NetSpec` and a seed to a :class:`~jacstab.Network`.

Randomness is explicit and per matrix: the hidden matrix ``W_k`` is drawn from its own ``torch.Generator`` seeded
from ``(seed, "hidden", k)`` (:mod:`jacstab.nets.streams`). Consequences users can rely on:

* the same spec and seed give identical tensors (on any device: weights are drawn on the CPU, then moved);
* the first ``d`` hidden matrices of a depth-``L`` network equal those of the depth-``d`` network (same seed);
* Gaussian networks that differ only in ``sigma2`` share their standard-normal draws (common random numbers),
  so comparisons across ``sigma2`` are not blurred by sampling noise;
* a pruned network and its unpruned parent share ``W`` exactly (pruning draws have their own streams).
"""

from __future__ import annotations

import dataclasses
import math
import os

import torch

from jacstab._checks import check_int
from jacstab.correlation import structured_normal
from jacstab.nets.activations import get_activation
from jacstab.nets.criteria import keep_keys
from jacstab.nets.layers import Dense, GatedDense, ReflectionBlock, ResidualBlock
from jacstab.nets.network import Network
from jacstab.nets.pruning import apply_scaling, random_masks
from jacstab.nets.schedules import reinit_weights, scheduled_masks, shuffle_masks
from jacstab.nets.streams import (
    MAX_SEED,
    STREAM_ETA,
    STREAM_HIDDEN,
    STREAM_IN,
    STREAM_MASK,
    STREAM_OUT,
    STREAM_SHARED,
    STREAM_SNIP,
    bernoulli_gate,
    gaussian,
    generator,
    haar_orthogonal,
)
from jacstab.specs import NetSpec

SNIP_BATCH = 64
MAX_BYTES_ENV = "JACSTAB_MAX_BYTES"


def memory_limit() -> int:
    """Bytes a network's weights may take: ``$JACSTAB_MAX_BYTES``, else 80% of this machine's physical memory."""
    value = os.environ.get(MAX_BYTES_ENV)
    if value is not None:
        try:
            return check_int(MAX_BYTES_ENV, int(float(value)), 1)
        except ValueError as e:
            raise ValueError(f"{MAX_BYTES_ENV} must be a positive number of bytes, got {value!r}") from e
    try:
        return int(0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - platforms without sysconf
        return 16 * 2**30


def weight_bytes(spec: NetSpec, dtype: torch.dtype) -> int:
    """Peak memory of :func:`sample`'s weights: ``L n^2 + n d + o n`` entries in float64 and/or float32 (a pruned
    float32 network holds both)."""
    entries = spec.depth * spec.width**2 + spec.width * spec.input_dim + spec.out_dim * spec.width
    float64_held = dtype == torch.float64 or spec.pruning.active
    return entries * ((8 if float64_held else 0) + (4 if dtype == torch.float32 else 0))


def check_size(spec: NetSpec, dtype: torch.dtype = torch.float64) -> None:
    """Raise ``ValueError`` with the memory estimate when ``spec``'s weights would not fit (checked before any
    allocation: a width of 200,000 or a depth of 10^8 fails at once, not after minutes of swapping)."""
    need, limit = weight_bytes(spec, dtype), memory_limit()
    if need > limit:
        raise ValueError(
            f"a network of width {spec.width}, depth {spec.depth} and input dimension {spec.input_dim} needs "
            f"{need / 2**30:.3g} GiB for its weights, over the limit of {limit / 2**30:.3g} GiB (80% of this "
            f"machine's memory, or ${MAX_BYTES_ENV}); lower the width, depth or in_dim"
        )


def _hidden(spec: NetSpec, seed: int, k: int, dtype: torch.dtype) -> torch.Tensor:
    """``W_k`` before pruning: Gaussian (iid or correlated, plus the paper's eta term) or scaled Haar."""
    n, g = spec.width, generator(seed, STREAM_HIDDEN, k)
    if spec.init == "orthogonal":
        return haar_orthogonal(n, n, generator=g, dtype=dtype).mul_(spec.gain)
    z = torch.randn(n, n, generator=g, dtype=dtype)
    corr = spec.correlation_model
    if corr.kind != "none":
        shared = torch.randn(n, generator=generator(seed, STREAM_SHARED, k), dtype=dtype)
        z = structured_normal(z, corr.kind, corr.rho, shared)
    if corr.eta > 0:
        z = z + corr.eta * torch.randn((), generator=generator(seed, STREAM_ETA, k), dtype=dtype)
    return z.mul_(math.sqrt(spec.sigma2 / n))


def hidden_matrix(spec: NetSpec, seed: int, k: int) -> torch.Tensor:
    """``W_k`` (``k = 1..L``) of ``sample(spec, seed)`` before pruning, float64 on the CPU: the same draws, so batched
    code (``jacstab.stats``) sees exactly the weights of the networks it stands for."""
    return _hidden(spec, seed, k, torch.float64)


def input_matrix(spec: NetSpec, seed: int) -> torch.Tensor:
    """``W_in`` of ``sample(spec, seed)`` (float64, CPU)."""
    return gaussian(spec.width, spec.input_dim, spec.sigma2, generator=generator(seed, STREAM_IN), dtype=torch.float64)


def _scoring_batch(spec: NetSpec, seed: int, dtype: torch.dtype, data):
    """The ``(x, y)`` batch snip/grasp score on: ``data`` when given, else (``prune_data='synthetic'`` only) a fixed
    batch of ``prune_batch`` (default 64) normalised Gaussian inputs with uniform random labels."""
    pruning = spec.pruning
    if data is not None:
        x, y = data
        if x.dim() != 2 or x.shape[1] != spec.input_dim or y.shape != (x.shape[0],) or x.shape[0] == 0:
            raise ValueError(
                f"data must be (x, y) with x of shape (batch, {spec.input_dim}) and y of shape "
                f"(batch,), got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        if int(y.min()) < 0 or int(y.max()) >= spec.out_dim:
            raise ValueError(f"labels y must be integers in [0, {spec.out_dim}) (out_dim)")
        return x.to(dtype), y.long()
    if pruning.data != "synthetic":
        raise ValueError(
            f"prune_data={pruning.data!r} scores {spec.prune} on a batch of that dataset: load it with "
            f"jacstab.training.pruning_batch(spec, seed) and pass sample(spec, seed, data=(x, y)) (the math core "
            "reads no files)"
        )
    size = SNIP_BATCH if pruning.batch is None else pruning.batch
    g = generator(seed if pruning.batch_seed is None else pruning.batch_seed, STREAM_SNIP)
    x = torch.randn(size, spec.input_dim, generator=g, dtype=dtype)
    x = x * (math.sqrt(spec.input_dim) / torch.linalg.vector_norm(x, dim=1, keepdim=True))
    return x, torch.randint(spec.out_dim, (size,), generator=g)


def _masks(parent: Network, data) -> list[torch.Tensor]:
    """The pruning masks of ``parent``'s (still unpruned) hidden matrices for its spec's
    :class:`~jacstab.specs.Pruning` (criterion, schedule, scope, ``shuffle``/``invert`` ablations)."""
    spec, seed, weights = parent.spec, parent.seed, parent.weights
    pruning, n, L = spec.pruning, spec.width, len(weights)
    if pruning.method == "random":
        gens = [generator(seed, STREAM_MASK, k) for k in range(1, L + 1)]
        masks = random_masks([(n, n)] * L, 1.0 - pruning.sparsity, gens)
    elif pruning.method == "magnitude-threshold":
        masks = [w.abs() > pruning.threshold for w in weights]
    else:
        batch = _scoring_batch(spec, seed, weights[0].dtype, data) if pruning.method in ("snip", "grasp") else None
        masks = scheduled_masks(lambda m: keep_keys(pruning.method, parent, batch, m), (n, n), L, pruning)
    return shuffle_masks(masks, seed) if pruning.ablation == "shuffle" else masks


def _prune(parent: Network, data) -> list[torch.Tensor]:
    """Masks, ablations and scaling of the hidden matrices (paper Section 4); returns the pruned, scaled
    matrices."""
    masks = _masks(parent, data)
    for k, m in enumerate(masks, 1):
        if not bool(m.any()):
            raise ValueError(
                f"pruning keeps no weight of hidden matrix {k} (prune={parent.spec.prune}); lower the "
                "threshold or the sparsity"
            )
    spec, weights = parent.spec, parent.weights
    if spec.pruning.ablation == "reinit":
        weights = reinit_weights(weights, masks, parent.seed, lambda k, g: _redraw(spec, k, g))
    pruned, _ = apply_scaling(weights, masks, spec.pruning, n=spec.width, sigma2=spec.sigma2)
    return pruned


def _redraw(spec: NetSpec, k: int, g: torch.Generator) -> torch.Tensor:
    """A fresh draw of the unpruned hidden law for ``prune_ablation='reinit'`` (iid Gaussian or scaled Haar; the
    correlated models re-draw their independent part only)."""
    n = spec.width
    if spec.init == "orthogonal":
        return haar_orthogonal(n, n, generator=g, dtype=torch.float64).mul_(spec.gain)
    return torch.randn(n, n, generator=g, dtype=torch.float64).mul_(math.sqrt(spec.sigma2 / n))


def fixed_gate_layers(layers, seed: int, p: float) -> tuple[GatedDense, ...]:
    """``layers`` with the fixed Bernoulli(``p``) gates of ``seed``: layer ``k`` (1-based) gets ``D_{k-1}``
    (:func:`~jacstab.nets.streams.bernoulli_gate`)."""
    gates = [bernoulli_gate(seed, k, len(layer.weight), p) for k, layer in enumerate(layers)]
    return tuple(GatedDense(la.weight, la.activation, g) for la, g in zip(layers, gates))


def check_device(device, what: str = "device") -> torch.device | None:
    """``torch.device(device)`` (None stays None), or a ``ValueError`` naming ``what`` (e.g. ``--device``) and what
    to give instead: only cpu and cuda are supported, and cuda only where a GPU is present."""
    if device is None:
        return None
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"{what} must be cpu, cuda or cuda:N, got {device!r}") from e
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"{what} must be cpu, cuda or cuda:N, got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{what} {device} was given but no CUDA device is available (use {what} cpu)")
    return dev


def _layer(spec: NetSpec, w: torch.Tensor, act) -> Dense | ResidualBlock | ReflectionBlock:
    """The hidden layer of the spec around ``w``: ``Dense`` (``W phi(y)``), with ``residual > 0`` a
    ``ResidualBlock`` (``y + alpha W phi(y)``, paper 004), with ``block='reflection'`` a ``ReflectionBlock``
    (``y - 2 W^T relu(W y)``, paper 003)."""
    if spec.block == "reflection":
        return ReflectionBlock(w, act)
    return ResidualBlock(w, act, spec.residual) if spec.residual else Dense(w, act)


def sample(spec: NetSpec, seed: int, dtype: torch.dtype = torch.float64, device=None, *, data=None) -> Network:
    """Draw a network from ``spec`` with integer ``seed >= 0``; same spec and seed give identical tensors.

    Hidden matrices: Gaussian ``W_ij ~ N(0, sigma2/n)`` (optionally correlated: ``eta``, ``correlation``) or
    ``sqrt(sigma2) * Haar orthogonal``, then pruned and scaled per ``spec.prune`` / ``spec.scaling``
    (``net.weights`` carry masks and scaling). ``W_in ~ N(0, sigma2/d)``; ``W_out ~ N(0, sigma2/n)``
    (paper eq. 1). ``spec.gates='bernoulli'``: the same weights, with layer ``k`` gated by a fixed iid
    Bernoulli(``gate_p``) ``D_{k-1}`` (:class:`~jacstab.nets.layers.GatedDense`). With ``spec.residual = alpha > 0``
    the hidden layers are residual blocks ``Y_k = Y_{k-1} + alpha W_k phi(Y_{k-1})`` (same weights as the plain
    network of the same seed); with ``spec.block = 'reflection'`` reflection blocks ``Y_{k-1} - 2 W_k^T
    relu(W_k Y_{k-1})`` (paper 003).
    Everything (weights, masks, scaling) is drawn and computed on the CPU in float64, then cast to ``dtype`` and
    moved to ``device``: float32 and float64 networks with the same seed share their draws and their masks (the
    float32 weights are the float64 ones rounded), so the two can be paired. The price: a float32 network costs the
    float64 draws (about 2x the time of float32 draws; unpruned nets are cast layer by layer, so the extra memory is
    one float64 matrix; pruned nets hold the float64 weights until the masks are made).

    Args:
        spec: the law; seed: integer in ``[0, 2^63)`` (Python or numpy integer).
        dtype: ``torch.float64`` (default) or ``torch.float32``.
        device: where the tensors live (``"cpu"``, ``"cuda"``); default CPU.
        data: ``(x, y)`` batch for ``prune='snip'`` or ``'grasp'`` (``x``: ``batch x in_dim``, ``y``: labels),
            required when ``spec.prune_data`` names a dataset (load it with
            :func:`jacstab.training.pruning_batch`); default with ``prune_data='synthetic'``: a fixed synthetic
            batch of ``prune_batch`` (64) normalised Gaussian inputs with random labels (seeded from
            ``prune_batch_seed``, default ``seed``).

    Returns:
        A frozen :class:`~jacstab.Network` with provenance ``sampled``.

    Raises:
        TypeError: ``spec`` is not a NetSpec. ValueError: bad seed, dtype or data (or a dataset batch was asked
        for and none given); pruning keeps no weight; the
        weights would not fit in memory (:func:`check_size`, before anything is allocated).
    """
    if not isinstance(spec, NetSpec):
        raise TypeError(f"spec must be a NetSpec, got {type(spec).__name__}")
    seed = check_int("seed", seed, 0, MAX_SEED)
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    check_size(spec, dtype)
    device = check_device(device)
    n = spec.width
    act = get_activation(spec.activation, spec.slope)
    f64 = torch.float64
    keep = f64 if spec.pruning.active else dtype  # pruning ranks the float64 weights; else cast layer by layer
    layers = [_layer(spec, _hidden(spec, seed, k, f64).to(keep), act) for k in range(1, spec.depth + 1)]
    w_in = input_matrix(spec, seed)
    w_out = gaussian(spec.out_dim, n, spec.sigma2, generator=generator(seed, STREAM_OUT), dtype=f64)
    net = Network(spec, seed, tuple(layers), w_in, w_out)
    if spec.pruning.active:
        net = net.replace(weights=_prune(net, data), provenance=net.provenance)  # still a draw from the spec
    if spec.gates == "bernoulli":  # gated after pruning, so SNIP scores (and the weights) match gates='forward'
        net = dataclasses.replace(net, layers=fixed_gate_layers(net.layers, seed, spec.gate_p))
    return net if device is None and dtype == f64 else net.to(device=device, dtype=dtype)
