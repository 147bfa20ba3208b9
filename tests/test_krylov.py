"""The block Lanczos kernel ``top_eigs`` against ``torch.linalg.eigh`` on explicit symmetric PSD matrices.

Contract under test (src/jacstab/engine/_krylov.py): the block size is ``max(block, k)`` (capped at ``n``);
convergence is declared when every Ritz residual ``||A x_i - theta_i x_i|| <= tol * theta_i + 100 eps theta_1``
(``tol = 1e-10`` in float64, ``1e-6`` in float32), when the Krylov space becomes invariant, or when it fills the
whole space; ``converged`` is False when ``max_dim`` is reached first.

Tolerances. For a symmetric ``A`` and a unit vector ``x`` some eigenvalue lies within ``||A x - theta x||`` of
``theta`` (Golub and Van Loan, Thm 8.1.13; Parlett, The Symmetric Eigenvalue Problem, Thm 4.5.1), so once no
eigenvalue is missed ``|theta_i - lambda_i| <= tol * theta_i + 100 eps theta_1``. On top of that bound:

* float64: the reference ``eigh`` is backward stable, error <= ~n eps lambda_1 <= 6e-14 lambda_1 for n <= 257;
  the floor ``100 eps lambda_1 = 2.2e-14 lambda_1`` plus that is below ``ATOL[float64] = 1e-12`` (relative to
  ``lambda_1``), and ``RTOL[float64] = 2e-10`` is twice the stopping tolerance.
* float32: the reference is ``eigh`` in float64 of the *same* float32-rounded matrix (so representation error does
  not count); the float32 products ``A V`` and the float32 residual are each off by up to ~n eps32 lambda_1
  (3e-5 lambda_1 for n = 257, usually ~sqrt(n) eps32 = 2e-6), so the floor 1.2e-5 lambda_1 plus rounding is
  covered by ``ATOL[float32] = 1e-4``; ``RTOL[float32] = 2e-6`` is twice the stopping tolerance.
"""

import itertools
import math

import pytest
import torch

from jacstab.engine._krylov import top_eigs

TOL = {torch.float64: 1e-10, torch.float32: 1e-6}  # top_eigs' default stopping tolerances
RTOL = {torch.float64: 2e-10, torch.float32: 2e-6}
ATOL = {torch.float64: 1e-12, torch.float32: 1e-4}  # relative to lambda_1
DTYPES = [torch.float64, torch.float32]


def spectrum(kind: str, n: int, seed: int = 0) -> torch.Tensor:
    """Descending eigenvalues (float64) of a few shapes met in practice."""
    g = torch.Generator().manual_seed(seed)
    if kind == "geometric":  # well separated: ratio 0.8 between neighbours
        return 0.8 ** torch.arange(n, dtype=torch.float64)
    if kind == "wishart":  # Marchenko-Pastur bulk, like J^T J of a random layer
        G = torch.randn(2 * n, n, generator=g, dtype=torch.float64) / math.sqrt(2 * n)
        return torch.linalg.eigvalsh(G.T @ G).flip(0)
    if kind == "power":  # slow algebraic decay 1/i
        return 1.0 / torch.arange(1, n + 1, dtype=torch.float64)
    if kind == "clustered":  # everything in [1, 1.001]: Krylov methods need ~n steps
        return torch.sort(1 + 1e-3 * torch.rand(n, generator=g, dtype=torch.float64), descending=True).values
    raise ValueError(kind)


def psd(lam: torch.Tensor, seed: int = 0, dtype: torch.dtype = torch.float64):
    """``A = U diag(lam) U^T`` with a Haar-ish random ``U``; returns ``(A in dtype, U)``, columns of U match lam."""
    n = lam.numel()
    g = torch.Generator().manual_seed(1000 + seed)
    U, R = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    U = U * torch.sign(torch.diagonal(R))
    A = (U * lam) @ U.T
    return (0.5 * (A + A.T)).to(dtype), U


def reference(A: torch.Tensor):
    """Descending eigenvalues and eigenvectors of ``A`` by float64 ``eigh`` (of exactly the matrix tested)."""
    w, V = torch.linalg.eigh(A.to(torch.float64))
    return w.flip(0), V.flip(1)


def run(A: torch.Tensor, k: int, **kw):
    """``top_eigs`` on the explicit matrix; also returns the total number of columns ``A`` was applied to."""
    cols = []

    def matmat(V):
        assert V.dtype == A.dtype and V.shape[0] == A.shape[0]
        cols.append(V.shape[1])
        return A @ V

    r = top_eigs(matmat, A.shape[0], k, dtype=A.dtype, device="cpu", **kw)
    return r, sum(cols)


def residuals(A: torch.Tensor, r) -> torch.Tensor:
    """True Ritz residuals ``||A x_i - theta_i x_i||`` recomputed in float64."""
    X, th = r.vectors.to(torch.float64), r.values.to(torch.float64)
    return torch.linalg.vector_norm(A.to(torch.float64) @ X - X * th, dim=0)


def check_values(r, lam: torch.Tensor, dtype: torch.dtype, k: int):
    """Shape, order, sign and accuracy of the Ritz values against the eigh reference."""
    assert r.values.shape == (k,) and r.vectors.shape == (lam.numel(), k)
    assert r.values.dtype == dtype and r.vectors.dtype == dtype
    th = r.values.to(torch.float64)
    assert torch.all(th[:-1] >= th[1:]) and torch.all(th >= 0)
    err = torch.abs(th - lam[:k])
    bound = RTOL[dtype] * lam[:k] + ATOL[dtype] * lam[0]
    assert torch.all(err <= bound), (err / lam[0]).tolist()


def check_certificate(A: torch.Tensor, r, lam: torch.Tensor, dtype: torch.dtype):
    """The answer carries its own error bound: the stopping rule holds for the true residuals, the Ritz vectors
    are orthonormal, and an eigenvalue of ``A`` lies within the residual of each Ritz value."""
    th = r.values.to(torch.float64)
    X = r.vectors.to(torch.float64)
    k = th.numel()
    ortho = torch.max(torch.abs(X.T @ X - torch.eye(k, dtype=torch.float64))).item()
    assert ortho <= (1e-12 if dtype == torch.float64 else 1e-5)
    res = residuals(A, r)
    eps = torch.finfo(dtype).eps
    rounding = (1e-13 if dtype == torch.float64 else 3e-5) * th[0]  # float32 residual evaluated in float32
    assert torch.all(res <= TOL[dtype] * th + 100 * eps * th[0] + rounding), (res / th[0]).tolist()
    dist = torch.min(torch.abs(th[:, None] - lam[None, :]), dim=1).values
    assert torch.all(dist <= res + ATOL[dtype] * lam[0])


# ---------------------------------------------------------------------------------------------------------------
# eigenvalues against eigh


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["geometric", "wishart", "power"])
@pytest.mark.parametrize(
    ("n", "k", "block"),
    [
        (30, 1, None),  # single-vector Lanczos
        (30, 3, 3),  # block = k
        (100, 1, 8),  # block > k
        (100, 4, None),  # default block = k
        (100, 4, 12),  # block > k
        (257, 6, 6),
        (257, 2, 16),
        (40, 40, None),  # k = n: the first block already spans the space
    ],
)
def test_top_values_match_eigh(n, k, block, kind, dtype):
    lam = spectrum(kind, n, seed=n + k)
    A, _ = psd(lam, seed=n, dtype=dtype)
    lam, _ = reference(A)
    r, _ = run(A, k, block=block)
    assert r.converged
    assert r.iterations >= 1
    check_values(r, lam, dtype, k)
    check_certificate(A, r, lam, dtype)


@pytest.mark.parametrize("k", [2, 4])
def test_block_smaller_than_k_is_block_k(k):
    # block < k is not allowed: top_eigs uses max(block, k), so block=1 must be the very same run as block=k
    A, _ = psd(spectrum("wishart", 80), seed=3)
    r1, c1 = run(A, k, block=1)
    rk, ck = run(A, k, block=k)
    assert r1.iterations == rk.iterations and c1 == ck
    assert torch.equal(r1.values, rk.values) and torch.equal(r1.vectors, rk.vectors)


def test_block_is_capped_at_n():
    # block > n: the first block is the whole space, so one Rayleigh-Ritz step is exact
    A, _ = psd(spectrum("power", 12), seed=4)
    lam, _ = reference(A)
    r, cols = run(A, 3, block=50)
    assert r.converged and r.iterations == 1 and cols == 12
    check_values(r, lam, torch.float64, 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_k_equals_n_returns_the_whole_spectrum(dtype):
    lam = spectrum("wishart", 25)
    A, _ = psd(lam, seed=5, dtype=dtype)
    lam, _ = reference(A)
    r, _ = run(A, 25)
    assert r.converged and r.iterations == 1
    check_values(r, lam, dtype, 25)


@pytest.mark.parametrize("scale", [2.0**-400, 2.0**400])
def test_scale_invariance(scale):
    # the stopping rule and the deflation threshold are relative to theta_1, so c A behaves like A
    lam = spectrum("wishart", 60)
    A, _ = psd(lam, seed=6)
    r1, _ = run(A, 3)
    rc, _ = run(A * scale, 3)
    assert rc.converged
    torch.testing.assert_close(rc.values / scale, r1.values, rtol=RTOL[torch.float64], atol=0)


def test_zero_matrix():
    A = torch.zeros(20, 20, dtype=torch.float64)
    r, _ = run(A, 3)
    assert r.converged and r.iterations == 1
    assert torch.equal(r.values, torch.zeros(3, dtype=torch.float64))


def test_deterministic_and_generator_controls_the_start():
    A, _ = psd(spectrum("wishart", 90), seed=7)
    a, _ = run(A, 3)
    b, _ = run(A, 3)
    assert torch.equal(a.values, b.values) and torch.equal(a.vectors, b.vectors) and a.iterations == b.iterations
    c, _ = run(A, 3, generator=torch.Generator().manual_seed(0))  # the default generator is seeded 0
    assert torch.equal(a.values, c.values)
    d, _ = run(A, 3, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(a.vectors, d.vectors)  # another start, same answer within tolerance
    torch.testing.assert_close(d.values, a.values, rtol=RTOL[torch.float64], atol=0)


# ---------------------------------------------------------------------------------------------------------------
# repeated eigenvalues and rank deficiency


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("k", "block"), [(3, 3), (4, None), (4, 6), (3, 8)])
def test_triple_top_eigenvalue_recovered_with_block_at_least_3(k, block, dtype):
    # exact multiplicity 3: a Krylov space from b starting vectors holds at most b copies of a repeated eigenvalue,
    # so block >= 3 must return all three copies (then the next eigenvalue)
    n = 120
    lam = torch.cat([torch.full((3,), 5.0, dtype=torch.float64), 3.0 * 0.9 ** torch.arange(n - 3, dtype=torch.float64)])
    A, U = psd(lam, seed=8, dtype=dtype)
    ref, _ = reference(A)
    r, _ = run(A, k, block=block)
    assert r.converged
    check_values(r, ref, dtype, k)
    check_certificate(A, r, ref, dtype)
    # the three Ritz vectors span the eigenspace: all principal cosines ~ 1 (sin theta <= res / gap, gap = 2)
    cos = torch.linalg.svdvals(U[:, :3].T @ r.vectors[:, :3].to(torch.float64))
    assert torch.all(cos >= 1 - (1e-10 if dtype == torch.float64 else 1e-4))


def test_triple_interior_eigenvalue():
    n = 100
    tail = 2.0 * 0.9 ** torch.arange(n - 5, dtype=torch.float64)
    lam = torch.cat([torch.tensor([9.0, 7.0, 4.0, 4.0, 4.0], dtype=torch.float64), tail])
    A, _ = psd(lam, seed=9)
    ref, _ = reference(A)
    r, _ = run(A, 6, block=6)
    assert r.converged
    check_values(r, ref, torch.float64, 6)
    triple = torch.full((3,), 4.0, dtype=torch.float64)
    torch.testing.assert_close(r.values[2:5], triple, rtol=RTOL[torch.float64], atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("rank", "k", "block"), [(5, 3, None), (5, 3, 4), (1, 1, None), (4, 7, None), (6, 2, 2)])
def test_rank_deficient_finds_invariant_subspace_early(rank, k, block, dtype):
    # A = G G^T of rank r: K(A, V) = span(V) + range(A) after ~r/b + 1 steps, which is invariant, so the answer
    # is exact long before the Krylov dimension reaches n (here 150); eigenvalues beyond the rank are 0.
    n = 150
    g = torch.Generator().manual_seed(rank)
    G = torch.randn(n, rank, generator=g, dtype=torch.float64)
    A = (G @ G.T).to(dtype)
    ref, _ = reference(A)
    r, cols = run(A, k, block=block)
    b = max(k, block or k)
    assert r.converged
    assert r.iterations <= math.ceil(rank / b) + 2
    assert cols <= rank + 3 * b
    check_values(r, ref, dtype, k)
    if k > rank:
        assert torch.all(r.values[rank:] <= ATOL[dtype] * ref[0])


# ---------------------------------------------------------------------------------------------------------------
# eigenvectors


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "k", "block"), [(60, 1, None), (60, 4, None), (200, 5, 10)])
def test_eigenvectors_of_separated_eigenvalues(n, k, block, dtype):
    lam = spectrum("geometric", n)  # neighbouring eigenvalues differ by 20%: every top one is well separated
    A, U = psd(lam, seed=n + k, dtype=dtype)
    ref, V = reference(A)
    r, _ = run(A, k, block=block)
    assert r.converged
    X = r.vectors.to(torch.float64)
    res = residuals(A, r)
    th = r.values.to(torch.float64)
    for i in range(k):
        cos = abs(float(X[:, i] @ V[:, i]))
        # Davis-Kahan: sin angle(x_i, v_i) <= res_i / min_{j != i} |theta_i - lambda_j|
        gap = float(torch.min(torch.abs(th[i] - torch.cat([ref[:i], ref[i + 1 :]]))))
        sin = math.sqrt(max(0.0, 1 - cos**2))
        slack = 1e-7 if dtype == torch.float64 else 1e-3  # sin from 1 - cos^2 loses half the digits
        assert sin <= float(res[i]) / gap + slack
        assert cos >= 1 - (1e-12 if dtype == torch.float64 else 1e-5)
        # the same against the exact eigenvectors used to build A (float64 only: float32 rounding moves them)
        if dtype == torch.float64:
            assert abs(float(X[:, i] @ U[:, i])) >= 1 - 1e-12


# ---------------------------------------------------------------------------------------------------------------
# warm start


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("block", [None, 1, 4])
def test_warm_start_at_the_top_eigenvector_converges_in_one_iteration(block, dtype):
    lam = spectrum("wishart", 150)
    A, _ = psd(lam, seed=10, dtype=dtype)
    ref, V = reference(A)
    # v is an eigenvector of the float64 A to ~eps; its residual in `dtype` is ~eps(dtype) lambda_1, under the floor
    r, cols = run(A, 1, block=block, start=V[:, :1].to(dtype))
    assert r.converged and r.iterations == 1 and cols == max(1, block or 1)
    check_values(r, ref, dtype, 1)
    assert abs(float(r.vectors[:, 0].to(torch.float64) @ V[:, 0])) >= 1 - 1e-6


def test_warm_start_with_top_k_eigenvectors():
    lam = spectrum("power", 120)
    A, _ = psd(lam, seed=11)
    ref, V = reference(A)
    r, _ = run(A, 3, start=V[:, :3])
    assert r.converged and r.iterations == 1
    check_values(r, ref, torch.float64, 3)


def test_warm_start_with_more_columns_than_block_uses_the_first():
    lam = spectrum("power", 120)
    A, _ = psd(lam, seed=12)
    ref, V = reference(A)
    r, cols = run(A, 1, block=2, start=V[:, :5])
    assert r.converged and r.iterations == 1 and cols == 2
    check_values(r, ref, torch.float64, 1)


def test_warm_start_helps():
    # a start close to the top eigenvector needs no more steps than a random one
    lam = spectrum("power", 200)
    A, _ = psd(lam, seed=13)
    ref, V = reference(A)
    g = torch.Generator().manual_seed(5)
    near = V[:, :1] + 1e-3 * torch.randn(200, 1, generator=g, dtype=torch.float64)
    cold, _ = run(A, 1)
    warm, _ = run(A, 1, start=near)
    assert warm.converged and cold.converged
    assert warm.iterations <= cold.iterations
    check_values(warm, ref, torch.float64, 1)


# ---------------------------------------------------------------------------------------------------------------
# non-convergence


# tol = 0 leaves only the floor 100 eps theta_1: 2.2e-14 theta_1 in float64 is out of reach in 60 dimensions on
# this cluster (the float32 floor, 1.2e-5 theta_1, is reachable on a cluster 1e-3 wide, so that case is float64 only)
NOT_CONVERGED = [(t, k, m, tol) for t in DTYPES for k, m, tol in [(1, 2, None), (2, 3, None), (4, 5, None)]]
NOT_CONVERGED += [(torch.float64, 2, 60, 0.0)]


@pytest.mark.parametrize(("dtype", "k", "max_dim", "tol"), NOT_CONVERGED)
def test_max_dim_reached_returns_not_converged(dtype, k, max_dim, tol):
    # 300 eigenvalues in [1, 1.001]: relative gaps ~3e-6, far from converged after a few Krylov steps
    n = 300
    lam = spectrum("clustered", n)
    A, _ = psd(lam, seed=14, dtype=dtype)
    ref, _ = reference(A)
    r, cols = run(A, k, max_dim=max_dim, tol=tol)
    assert not r.converged
    assert r.values.shape == (k,) and r.vectors.shape == (n, k)
    # the Krylov space grows by whole blocks, so it may overshoot max_dim by at most block - 1 columns
    assert cols <= max_dim + k - 1
    # still Ritz values of an orthonormal basis: Cauchy interlacing theta_i <= lambda_i, and close (clustered)
    th = r.values.to(torch.float64)
    slack = (1e-13 if dtype == torch.float64 else 1e-5) * ref[0]
    assert torch.all(th <= ref[:k] + slack)
    assert torch.all(th >= ref[n - 1] - slack)


def test_tol_zero_still_converges_when_the_space_is_exhausted():
    # tol = 0 leaves only the 100 eps theta_1 floor; on a small matrix the Krylov space reaches n, then exact
    lam = spectrum("clustered", 24)
    A, _ = psd(lam, seed=15)
    ref, _ = reference(A)
    r, cols = run(A, 2, tol=0.0)
    assert r.converged and cols <= 24 + 1
    check_values(r, ref, torch.float64, 2)


# ---------------------------------------------------------------------------------------------------------------
# defect found while writing these tests


# Defect found while writing these tests, now fixed: _orth dropped a non-trailing column of an unpivoted QR, so
# a projected column that is exactly zero (A q = 0 for a basis column, e.g. a warm start in the null space) made
# LAPACK pick e_1 for it and orthogonalise the kept columns against e_1 instead of the basis; top_eigs then
# reported converged=True with Ritz values above lambda_max (39.6 for lambda_max = 10 at block 3).
@pytest.mark.parametrize("block", [2, 3, 8])
def test_warm_start_in_null_space_with_random_fill(block):
    n = 40
    lam = torch.cat([torch.linspace(10, 1, n - 10, dtype=torch.float64), torch.zeros(10, dtype=torch.float64)])
    A = torch.diag(lam)
    start = torch.zeros(n, 1, dtype=torch.float64)
    start[n - 3, 0] = 1.0  # A start = 0 exactly; the other block columns are random, so the top is reachable
    r, _ = run(A, 2, block=block, start=start)
    X = r.vectors
    assert torch.max(torch.abs(X.T @ X - torch.eye(2, dtype=torch.float64))) <= 1e-12
    assert r.converged
    check_values(r, torch.sort(lam, descending=True).values, torch.float64, 2)


@pytest.mark.parametrize("k", [1, 2])
def test_warm_start_in_null_space_without_fill_restarts(k):
    # block = k = 1 with a start in the null space: A start = 0 is an exact eigenpair (theta = 0), but not the top;
    # top_eigs continues once from random directions orthogonal to it instead of reporting the zero
    n = 40
    lam = torch.cat([torch.linspace(10, 1, n - 10, dtype=torch.float64), torch.zeros(10, dtype=torch.float64)])
    start = torch.zeros(n, k, dtype=torch.float64)
    for j in range(k):
        start[n - 1 - j, j] = 1.0
    r, _ = run(torch.diag(lam), k, block=k, start=start)
    assert r.converged
    check_values(r, torch.sort(lam, descending=True).values, torch.float64, k)


def test_non_finite_operator_is_reported_not_converged():
    # an operator that returns nan (e.g. a user callable with an infinite derivative) must not look converged
    A = torch.eye(10, dtype=torch.float64)
    A[3, 3] = float("nan")
    r, _ = run(A, 2)
    assert not r.converged and torch.isnan(r.values).all()


# ---------------------------------------------------------------------------------------------------------------
# rounds: the accelerator schedule (round_steps > 1 block products between two host reads), run here on the CPU


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("round_steps", [2, 3, 8])
@pytest.mark.parametrize(("kind", "n", "k", "block"), [("wishart", 100, 1, None), ("power", 257, 1, None),
                                                        ("geometric", 100, 4, 12), ("wishart", 257, 2, 16)])
def test_rounds_give_the_same_answer_with_its_certificate(kind, n, k, block, round_steps, dtype):
    # same stopping rule, checked every round_steps products: the values and the residual certificate hold as for
    # round_steps = 1, at the price of at most round_steps - 1 products past the point where the rule first held
    lam = spectrum(kind, n, seed=n + k)
    A, _ = psd(lam, seed=n, dtype=dtype)
    lam, _ = reference(A)
    one, _ = run(A, k, block=block, round_steps=1)
    r, _ = run(A, k, block=block, round_steps=round_steps)
    assert r.converged
    check_values(r, lam, dtype, k)
    check_certificate(A, r, lam, dtype)
    assert one.iterations <= r.iterations <= one.iterations + round_steps - 1


def _transfers(monkeypatch, fn):
    """``(fn(), reads, copies)``: host reads (``count_host_reads``) and ``Tensor.to`` calls that name a device or
    ``Tensor.cpu`` calls (on a GPU each is a copy between host and device; here every tensor is on the CPU)."""
    from conftest import count_host_reads

    copies = [0]
    real_to, real_cpu = torch.Tensor.to, torch.Tensor.cpu

    def to(self, *a, **kw):
        copies[0] += "device" in kw or any(isinstance(x, (str, torch.device)) for x in a)
        return real_to(self, *a, **kw)

    def cpu(self, *a, **kw):
        copies[0] += 1
        return real_cpu(self, *a, **kw)

    with monkeypatch.context() as m:
        m.setattr(torch.Tensor, "to", to)
        m.setattr(torch.Tensor, "cpu", cpu)
        out, reads = count_host_reads(monkeypatch, fn)
    return out, reads, copies[0]


@pytest.mark.parametrize("round_steps", [1, 4, 12])
def test_single_vector_synchronises_only_at_the_checks(monkeypatch, round_steps):
    # the GPU contract of the norm (k = 1): nothing inside a round of round_steps products synchronises; each check
    # makes one host read (the flags) and two copies (T to the host for its eigh, the Ritz coefficients back), and
    # the start block is one copy (drawn by a CPU generator)
    lam = spectrum("wishart", 200, seed=3)
    A, _ = psd(lam, seed=3)
    (r, cols), reads, copies = _transfers(monkeypatch, lambda: run(A, 1, round_steps=round_steps))
    assert r.converged and cols == r.iterations >= 10  # ~20 steps for this spectrum: several rounds at 4
    checks = math.ceil(r.iterations / round_steps)
    assert (reads, copies) == (checks, 1 + 2 * checks)
    check_values(r, reference(A)[0], torch.float64, 1)


def _orthonormal(r, dtype=torch.float64):
    X = r.vectors.to(torch.float64)
    assert torch.max(torch.abs(X.T @ X - torch.eye(X.shape[1], dtype=torch.float64))) <= (
        1e-12 if dtype == torch.float64 else 1e-5
    )


@pytest.mark.parametrize("round_steps", [4, 8])
@pytest.mark.parametrize(("rank", "k", "block"), [(1, 1, None), (1, 3, None), (5, 3, 4), (4, 7, None)])
def test_rounds_step_over_an_invariant_subspace(rank, k, block, round_steps):
    # the space becomes invariant inside a round: a single vector turns into zero columns (never picked as Ritz
    # vectors), a wider block's SVD drops every direction and ends the round (no product past it); either way the
    # answer is exact, with orthonormal Ritz vectors, also for k > rank (the extra values are 0)
    n = 150
    G = torch.randn(n, rank, generator=torch.Generator().manual_seed(rank), dtype=torch.float64)
    A = G @ G.T
    ref, _ = reference(A)
    r, _ = run(A, k, block=block, round_steps=round_steps)
    b = max(k, block or k)
    assert r.converged
    assert r.iterations <= math.ceil(rank / b) + (2 if b > 1 else 1 + round_steps)
    check_values(r, ref, torch.float64, k)
    _orthonormal(r)
    assert torch.all(residuals(A, r) <= 1e-12 * ref[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("round_steps", [2, 5, 8])
@pytest.mark.parametrize(("n", "k"), [(40, 1), (40, 2), (8, 1), (6, 1), (6, 2)])
def test_rounds_restart_from_a_warm_start_in_the_null_space(n, k, round_steps, dtype):
    # n <= round_steps too: the zero columns of a single vector's breakdown count neither towards the dimension
    # (which decides the restart) nor towards max_dim; float32: the floor of the scale is float32's smallest
    # normal number (a 1e-300 floor rounds to 0 there, and 0 / 0 made the check nan)
    # every start column in the null space (a start spanning an invariant subspace with a non-zero top cannot be
    # told from a converged one: Lanczos sees nothing outside it, with or without rounds)
    z = max(k, n // 4)
    lam = torch.cat([torch.linspace(10, 1, n - z, dtype=torch.float64), torch.zeros(z, dtype=torch.float64)])
    start = torch.zeros(n, k, dtype=torch.float64)
    for j in range(k):
        start[n - 1 - j, j] = 1.0
    r, _ = run(torch.diag(lam).to(dtype), k, block=k, start=start.to(dtype), round_steps=round_steps)
    assert r.converged
    check_values(r, torch.sort(lam, descending=True).values, dtype, k)
    _orthonormal(r, dtype)


@pytest.mark.parametrize("round_steps", [1, 8])
def test_zero_operator_and_zero_start(round_steps):
    # A = 0: the top eigenvalue is 0 with a unit eigenvector (not a zero column of the basis); a zero warm start is
    # replaced by a random one (it used to leave an empty basis)
    A = torch.zeros(20, 20, dtype=torch.float64)
    for start in (None, torch.zeros(20, 1, dtype=torch.float64)):
        r, _ = run(A, 1, round_steps=round_steps, start=start)
        assert r.converged and r.values.tolist() == [0.0]
        _orthonormal(r)
    lam = spectrum("geometric", 30)
    A, _ = psd(lam, seed=2)
    r, _ = run(A, 1, round_steps=round_steps, start=torch.zeros(30, 1, dtype=torch.float64))
    assert r.converged
    check_values(r, reference(A)[0], torch.float64, 1)


@pytest.mark.parametrize(("block", "round_steps"), [(1, 1), (1, 8), (4, 2), (4, 8)])
def test_huge_operators_do_not_break_down_falsely(block, round_steps):
    # entries ~1e200: vector_norm squares them (inf past ~1e154), which made the breakdown threshold infinite and
    # every direction "dependent" (a false invariant subspace, 22% off); the norms are now scaled by the largest entry
    lam = 1e200 * torch.rand(6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    A, _ = psd(lam, seed=0)
    r, _ = run(A, 1, block=block, round_steps=round_steps)
    assert r.converged
    check_values(r, reference(A)[0], torch.float64, 1)


@pytest.mark.parametrize("block", [1, 3])
def test_rounds_report_a_non_finite_operator_and_max_dim(block):
    A = torch.eye(10, dtype=torch.float64)
    A[3, 3] = float("nan")
    r, _ = run(A, 1, block=block, round_steps=4)
    assert not r.converged and torch.isnan(r.values).all()
    # max_dim inside a round: the round stops there, not converged, and the products stay within max_dim
    lam = spectrum("clustered", 300)
    A, _ = psd(lam, seed=14)
    r, cols = run(A, 1, block=block, round_steps=8, max_dim=6)
    assert not r.converged and cols <= 6 + block - 1
    assert r.values[0] <= reference(A)[0][0] * (1 + 1e-13)  # Cauchy interlacing: a Ritz value of a subspace



def _edge_operator(kind: str, n: int, seed: int) -> torch.Tensor:
    """Small PSD matrices with the structures that exercise breakdowns: low rank, a repeated top, a huge dynamic
    range, exact zeros in a diagonal basis, and extreme overall scales."""
    g, f64 = torch.Generator().manual_seed(seed), torch.float64
    U, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=f64))
    r = max(1, n // 4)
    rand = lambda m: torch.rand(m, generator=g, dtype=f64)  # noqa: E731
    if kind == "low_rank":
        lam = torch.cat([rand(r) + 0.5, torch.zeros(n - r, dtype=f64)])
    elif kind == "repeated":
        lam = torch.cat([torch.full((3,), 2.0, dtype=f64), rand(n - 3)])
    elif kind == "one_big":
        lam = torch.cat([torch.ones(1, dtype=f64), 1e-13 * rand(n - 1)])
    elif kind == "diagonal_low_rank":
        lam, U = torch.cat([torch.arange(r, 0, -1, dtype=f64), torch.zeros(n - r, dtype=f64)]), None
    else:  # "huge" / "tiny": the whole spectrum at 1e200 / 1e-200
        lam = (1e200 if kind == "huge" else 1e-200) * rand(n)
    A = torch.diag(lam) if U is None else (U * lam) @ U.T
    return 0.5 * (A + A.T)


@pytest.mark.parametrize("round_steps", [1, 2, 3, 8])
@pytest.mark.parametrize("kind", ["low_rank", "repeated", "one_big", "diagonal_low_rank", "huge", "tiny"])
def test_rounds_on_edge_operators(kind, round_steps):
    # every combination of size, k, block and start (none, random, in the null space where there is one): a result
    # reported converged has the eigh values (to the stopping rule) and orthonormal Ritz vectors; with k = 1 and no
    # null-space trap it must converge. (A warm start spanning an invariant subspace with a non-zero top is not
    # generated: no Krylov method can tell it from convergence.)
    for n, dtype, k, block in itertools.product([6, 9, 30], DTYPES, [1, 2, 3], [None, 4]):
        if dtype == torch.float32 and kind in ("huge", "tiny"):
            continue  # outside float32's range
        A = _edge_operator(kind, n, seed=n + k).to(dtype)
        ref = torch.linalg.eigvalsh(A.to(torch.float64)).flip(0)
        starts = [None, torch.randn(n, 1, generator=torch.Generator().manual_seed(n), dtype=torch.float64)]
        if kind in ("low_rank", "diagonal_low_rank"):
            starts.append(torch.linalg.eigh(A.to(torch.float64))[1][:, :1])  # an exact null vector
        for start in starts:
            r, _ = run(A, k, block=block, round_steps=round_steps, start=None if start is None else start.to(dtype))
            assert r.converged or k > 1, (n, dtype, k, block, start is None)
            if r.converged:
                check_values(r, ref, dtype, k)
                _orthonormal(r, dtype)
