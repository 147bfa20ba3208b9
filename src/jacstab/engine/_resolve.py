"""The one place that chooses a backend: every threshold of the engine lives here.

A :class:`Plan` says which method will run and why; a :class:`RunInfo` (returned with ``return_info=True``)
says which method ran and whether a fallback fired, so a user never has to guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from jacstab._checks import METHODS, check_choice

# Network, method="auto": matrix-free Lanczos from this width on, for k <= n / LANCZOS_K_DIVISOR
# (benchmarks/bench_core.py: 1.3-2x faster than forming the product at n = 1024, k = 1).
LANCZOS_MIN_WIDTH = 1024
# ... on a GPU. Estimated, not yet timed (no GPU lent to the sessions so far): a matrix-free product is 2L small
# launch-bound GEMVs per Lanczos step (~25 steps), ~0.07 s at n = 1024, L = 100 on an H100 (issue 16's profile),
# where forming the product is L GEMMs (~0.006 s). Forming costs L n^3/4 multiply-adds against the matrix-free
# ~50 L n^2/2 memory-bound ones: at ~50 Tflop/s and ~3 TB/s they cross near n = 8192 (float32).
LANCZOS_MIN_WIDTH_ACCELERATOR = 8192
LANCZOS_K_DIVISOR = 8
# A formed matrix (a prefix product): below this many rows or columns an SVD is cheaper than Lanczos for ||F||.
DENSE_NORM_MAX = 192
# Torch callable, method="auto": matrix-free jvp/vjp Lanczos above this input size, for k <= m / 8.
JVP_MIN_INPUT = 1024
JVP_K_DIVISOR = 8
# Depth curves: prefixes are processed in chunks of depths whose stacked float64 Gram matrices stay below this many
# bytes; batched Lanczos checks its stopping rule (one host read) every CURVE_ROUND_STEPS steps.
# (benchmarks/bench_core.py: ~10 Lanczos steps per prefix at n = 256, up to ~35 at depth 1.)
CURVE_CHUNK_BYTES = 256 * 2**20
# (A cache-sized stack on the CPU was tried: 1-8 MiB chunks were no faster than one stack at n = 256, L = 100.)
CURVE_ROUND_STEPS = 12
CURVE_BLOCK = 1
# ... and pads the prefixes' columns with zeros to a multiple of this (MKL GEMMs of 139 vs 144 columns at n = 256:
# 295 vs 223 us for the Gram; the norms are unchanged: zero columns add zero eigenvalues to the Gram matrix).
CURVE_PAD = 8
# Above this many active input units the Gram stack costs more than one warm-started Lanczos per depth
# (benchmarks/bench_core.py, n = 1024 float64 L = 100: 0.95x vs 0.63x the GEMM chain) on the CPU. On a GPU the
# Gram stack is used at every width: one Lanczos per depth synchronises with the host at least once per depth
# (8-20 ms per depth in issue 16's H100 profile), and the Gram GEMM only doubles the prefix GEMM (not yet timed).
CURVE_GRAM_MAX_COLS = 384
# Lanczos block size for top-k (k > 1): matmats are memory-bound, so a wide block costs about as much per step as a
# thin one and needs far fewer steps; k = 1 uses a single vector (converges in ~10 steps).
LANCZOS_MIN_BLOCK = 32
# Lanczos (top_eigs) checks its stopping rule (one host read) after this many block products: every
# product on the CPU (a check costs O(n j) there, far below a product through L layers), a round on a GPU, where
# each check synchronises the host with the device (the issue-16 H100 profile: 8-20 ms per synchronised solve).
# Not yet timed on a GPU (none lent to the sessions so far): 8 bounds the products spent past convergence to 7,
# against a typical 10-35 for k = 1.
LANCZOS_ROUND_STEPS = {"cpu": 1}
LANCZOS_ROUND_STEPS_ACCELERATOR = 8
# ... on a formed operator (a prefix product F, products F^T (F v)) on the CPU: a check (eigh of the projected matrix
# and ~25 small torch calls, ~0.1 ms) costs a third of a product of a 1024 x 512 prefix, so every second product
# (the CPU depth curve at n = 1024, 1 thread: 2.25 s checking every product, 2.16 s every second, 2.16 s every third).
LANCZOS_ROUND_STEPS_FORMED_CPU = 2
# isometry_defect, method="auto": every singular value up to this many input columns, else Hutchinson probes.
ISOMETRY_EXACT_MAX = 1024


@dataclass(frozen=True)
class Plan:
    """The method that will run (``dense``, ``lanczos``, ``jacrev`` or ``jvp``) and the reason it was chosen."""

    method: str
    reason: str


@dataclass
class RunInfo:
    """What ran: the requested and the executed method, and every fallback that fired (with its reason)."""

    requested: str
    method: str
    reason: str
    fallbacks: list[str] = field(default_factory=list)

    @property
    def fallback(self) -> bool:
        """True when a fallback replaced the planned method at least once."""
        return bool(self.fallbacks)

    def fell_back(self, to: str, why: str) -> None:
        """Record a fallback to ``to`` (the exact method that then ran)."""
        self.fallbacks.append(f"{self.method} -> {to}: {why}")
        self.method = to


def _on_cpu(device) -> bool:
    return torch.device(device).type == "cpu"


def plan_network(width: int, k: int, method: str, device="cpu") -> Plan:
    """Backend for the Jacobian of a jacstab Network of width ``width`` and top-``k`` values on ``device``
    (``LANCZOS_MIN_WIDTH`` on the CPU, ``LANCZOS_MIN_WIDTH_ACCELERATOR`` elsewhere)."""
    check_choice("method", method, METHODS)
    if method != "auto":
        return Plan(method, "requested")
    cpu = _on_cpu(device)
    least = LANCZOS_MIN_WIDTH if cpu else LANCZOS_MIN_WIDTH_ACCELERATOR
    where = "" if cpu else f" on {torch.device(device).type}"
    if width >= least and k <= width // LANCZOS_K_DIVISOR:
        return Plan("lanczos", f"auto{where}: width {width} >= {least} and k = {k} <= n/{LANCZOS_K_DIVISOR}")
    return Plan("dense", f"auto{where}: width {width} < {least} or k = {k} > n/{LANCZOS_K_DIVISOR}")


def plan_callable(m: int, k: int | None, method: str) -> Plan:
    """Backend for the Jacobian of a torch callable at an input of size ``m`` (``dense``/``lanczos`` map to the
    torch.func equivalents ``jacrev``/``jvp``)."""
    check_choice("method", method, METHODS)
    if method in ("dense", "lanczos"):
        return Plan("jacrev" if method == "dense" else "jvp", f"requested {method}: its torch.func equivalent")
    if method != "auto":
        return Plan(method, "requested")
    if k is not None and m > JVP_MIN_INPUT and k <= m // JVP_K_DIVISOR:
        return Plan("jvp", f"auto: input size {m} > {JVP_MIN_INPUT} and k = {k} <= m/{JVP_K_DIVISOR}")
    return Plan("jacrev", f"auto: input size {m} <= {JVP_MIN_INPUT} or k not small")


def plan_depth_curve(method: str) -> Plan:
    """Backend for a depth curve: ``auto`` is ``dense``, one pass over the prefix products (the norms of a chunk of
    prefixes then by batched Lanczos on their Gram matrices, :func:`curve_chunk`); other methods measure every
    depth separately."""
    check_choice("method", method, METHODS)
    if method == "auto":
        return Plan("dense", "auto: one pass over the prefix products")
    return Plan(method, "requested: every depth measured separately")


def plan_operator(method: str) -> Plan:
    """Backend for :func:`jacstab.jacobian_operator` of a Network: ``auto`` is the matrix-free ``lanczos`` chain
    (nothing formed; ``dense()`` forms it on demand)."""
    check_choice("method", method, METHODS)
    return Plan("lanczos", "auto: matrix-free") if method == "auto" else Plan(method, "requested")


def curve_chunk(cols: int, depth: int) -> int:
    """How many Gram matrices of prefixes (``cols x cols`` each, float64) a depth curve stacks at once (at least
    1)."""
    return max(1, min(depth, CURVE_CHUNK_BYTES // max(1, 8 * cols * cols)))


def curve_by_gram(active: int, device) -> bool:
    """Whether a depth curve whose prefixes have ``active`` input units takes the Gram stack (else one warm-started
    Lanczos per depth): up to ``CURVE_GRAM_MAX_COLS`` on the CPU, always on a GPU."""
    return active <= CURVE_GRAM_MAX_COLS or not _on_cpu(device)


def curve_cols(active: int) -> int:
    """The columns a depth curve's prefixes carry: ``active`` rounded up to a multiple of ``CURVE_PAD``."""
    return -(-active // CURVE_PAD) * CURVE_PAD


def lanczos_round_steps(device, *, formed: bool = False) -> int:
    """Block products between two checks of :func:`~jacstab.engine._krylov.top_eigs` on ``device``
    (``LANCZOS_ROUND_STEPS``; ``formed``: the operator is a formed matrix, whose products are cheap on the CPU)."""
    kind = torch.device(device).type
    if formed and kind == "cpu":
        return LANCZOS_ROUND_STEPS_FORMED_CPU
    return LANCZOS_ROUND_STEPS.get(kind, LANCZOS_ROUND_STEPS_ACCELERATOR)


def lanczos_block(k: int, n: int) -> int:
    """Block size for top-``k`` Lanczos on an ``n``-dimensional operator."""
    return 1 if k == 1 else min(max(2 * k, LANCZOS_MIN_BLOCK), n)


def norm_by_svd(rows: int, cols: int) -> bool:
    """Whether ``||F||_2`` of a formed ``rows x cols`` matrix is cheaper by SVD than by Lanczos."""
    return min(rows, cols) <= DENSE_NORM_MAX
