"""One analysis layer for depth curves ``log ||J^(d)||`` (natural log, d = 1..L) measured over several seeds.

Every growth rate, band and "most stable" claim in plots, the report and the CLI comes from here, so they agree:

* :func:`growth_slope` -- growth per layer: mean over seeds of the per-seed least-squares slope, with a
  t confidence interval from the seed-to-seed spread.
* :func:`mean_band` -- per-depth mean over seeds with a t confidence interval of the mean (sd with ddof 1).
* :func:`compare_slopes` -- ranks settings by ``|slope - target|`` and says whether the best is
  distinguishable from the runner-up.

Conventions for a value ``log ||J^(d)||`` of one seed: ``-inf`` means a dead network (``J = 0`` exactly) and is
counted, never averaged; ``NaN`` means a failed/missing value and is counted separately; ``+inf`` is an overflow,
not a measurement, and raises ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Band", "Ranking", "Slope", "compare_slopes", "dead_note", "growth_slope", "mean_band"]


def _check_level(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    return float(level)


def _t_quantile(level: float, df):
    """Two-sided t critical value ``t_{(1+level)/2, df}`` (NaN where ``df < 1``)."""
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        q = stats.t.ppf(0.5 + level / 2.0, np.where(df >= 1, df, np.nan))
    return q if q.ndim else float(q)


def _as_curves(log_norms) -> np.ndarray:
    """``log_norms`` as a float array ``(seeds, L)``; a single curve ``(L,)`` becomes one seed."""
    x = np.asarray(log_norms, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"log_norms must have shape (seeds, L) or (L,), got {np.shape(log_norms)}")
    if np.any(x == np.inf):
        raise ValueError("log_norms contains +inf (an overflow, not a measurement)")
    return x


def _fmt(value: float, half: float) -> str:
    """``value ± half`` with the value rounded to the decimal place of the uncertainty's 2nd significant digit."""
    if not math.isfinite(value):
        return "nan"
    if not math.isfinite(half) or half <= 0:
        return f"{value:+.4g} ± {half:.2g}"
    decimals = min(12, max(0, 1 - math.floor(math.log10(half))))
    return f"{value:+.{decimals}f} ± {half:.{decimals}f}"


@dataclass(frozen=True)
class Slope:
    """Growth of ``log ||J^(d)||`` per layer, estimated over seeds (see :func:`growth_slope`).

    Attributes:
        value: mean over live seeds of the per-seed OLS slopes ``b_s`` (NaN when no seed is usable).
        se: standard error ``sd(b_s, ddof=1) / sqrt(n_seeds)`` (NaN when ``n_seeds < 2``).
        ci_low: ``value - t_{(1+level)/2, n_seeds-1} * se``.
        ci_high: ``value + t_{(1+level)/2, n_seeds-1} * se``.
        n_seeds: seeds that entered the estimate.
        dead: seeds excluded because their curve hits ``-inf`` (``J = 0`` exactly) in the fitted depths.
        missing: seeds excluded because fewer than two finite depths remain (values were NaN).
        level: confidence level of the interval.
        seed_slopes: the per-seed slopes ``b_s`` of the seeds used.
    """

    value: float
    se: float
    ci_low: float
    ci_high: float
    n_seeds: int
    dead: int = 0
    missing: int = 0
    level: float = 0.95
    seed_slopes: tuple[float, ...] = ()

    @classmethod
    def from_seed_slopes(cls, seed_slopes: Sequence[float], *, dead: int = 0, missing: int = 0, level=0.95) -> Slope:
        """Seed-level estimate from independent per-seed slopes ``b_1..b_S``.

        ``value = mean(b)``, ``se = sd(b, ddof=1) / sqrt(S)``, CI ``value ± t_{(1+level)/2, S-1} se``.

        Args:
            seed_slopes: finite per-seed slopes, one per independent seed.
            dead: number of dead seeds already excluded (reported, not used).
            missing: number of seeds excluded for missing values (reported, not used).
            level: confidence level in (0, 1).

        Returns:
            The :class:`Slope`; with one seed ``se`` and the CI are NaN, with none ``value`` is NaN too.

        Raises:
            ValueError: if a slope is not finite or ``level`` is outside (0, 1).
        """
        level = _check_level(level)
        b = np.asarray(seed_slopes, dtype=float).ravel()
        if not np.all(np.isfinite(b)):
            raise ValueError("seed_slopes must be finite")
        n = b.size
        value = float(b.mean()) if n else math.nan
        se = float(b.std(ddof=1) / math.sqrt(n)) if n >= 2 else math.nan
        half = _t_quantile(level, n - 1) * se
        return cls(value, se, value - half, value + half, n, int(dead), int(missing), level, tuple(b.tolist()))

    @property
    def half_width(self) -> float:
        """Half-width of the confidence interval, ``(ci_high - ci_low) / 2``."""
        return (self.ci_high - self.ci_low) / 2.0

    def format(self, unit: str = "") -> str:
        """``"+0.0123 ± 0.0040<unit>"``: the estimate and its CI half-width (the interval is symmetric)."""
        return f"{_fmt(self.value, self.half_width)}{unit}"

    def __str__(self) -> str:
        seeds = f"{self.n_seeds} seed{'s' if self.n_seeds != 1 else ''}"
        extra = f", {self.dead} dead: J = 0 exactly" if self.dead else ""
        extra += f", {self.missing} missing" if self.missing else ""
        if self.n_seeds == 0:
            return f"no estimate ({seeds}{extra})"
        return f"{self.format()} ({round(100 * self.level, 6):g}% CI, {seeds}{extra})"


def _ols_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope ``sum((x - x̄)(y - ȳ)) / sum((x - x̄)^2)``."""
    xc = x - x.mean()
    return float(np.dot(xc, y - y.mean()) / np.dot(xc, xc))


def _window(L: int, depths, start) -> tuple[np.ndarray, np.ndarray]:
    """``(depths used, boolean mask of the columns used)``: depths ``>= start``, after validating ``depths``."""
    d = np.arange(1, L + 1, dtype=float) if depths is None else np.asarray(depths, dtype=float)
    if d.shape != (L,) or not np.all(np.isfinite(d)) or np.any(np.diff(d) <= 0):
        raise ValueError(f"depths must be {L} finite, strictly increasing values")
    use = np.ones(L, bool) if start is None else d >= start
    if use.sum() < 2:
        raise ValueError(f"fewer than two depths at or after start={start!r}: no slope")
    return d[use], use


def growth_start(depth: int) -> int | None:
    """The first depth of the window over which jacstab reports growth per layer: the second half of the depths
    (``L // 2 + 1``), past the sub-exponential transient of the first layers (``None``, all depths, when L <= 2).
    The report and ``jacstab scalings`` both use it, so one setting has one growth number."""
    return depth // 2 + 1 if depth > 2 else None


def growth_slope(log_norms, depths=None, *, start: float | None = None, level: float = 0.95) -> Slope:
    """Growth of ``log ||J^(d)||`` per layer: mean over seeds of per-seed least-squares slopes.

    For each seed ``s``, ``b_s = sum_d (d - d̄)(y_sd - ȳ_s) / sum_d (d - d̄)^2`` over that seed's finite values at
    depths ``d >= start``. The estimate is ``b̄ = mean_s b_s``, its standard error ``sd_s(b_s, ddof=1) / sqrt(S)``
    and the interval ``b̄ ± t_{(1+level)/2, S-1} * SE``, with ``S`` the number of seeds used.

    Seeds are independent, so their slopes are i.i.d. and this SE is valid. Depths within one seed are not
    independent (``log ||J^(d)||`` is a running sum of per-layer increments, a random walk), so the usual OLS
    standard error of a single curve (or of all points pooled) assumes independent residuals and is wrong;
    it is never used. With one seed there is no seed-to-seed spread and the SE and CI are NaN.

    Args:
        log_norms: array ``(seeds, L)`` or ``(L,)`` of natural-log norms. ``-inf`` marks a dead network
            (``J = 0`` exactly); NaN a missing value.
        depths: the depth of each column (default ``1..L``), strictly increasing.
        start: first depth used (default: all), e.g. ``L // 2 + 1`` for the second half.
        level: confidence level of the interval.

    Returns:
        A :class:`Slope`. Seeds hitting ``-inf`` in the fitted depths are excluded and counted in ``dead``;
        seeds with fewer than two finite values are excluded and counted in ``missing``; NaN values of the other
        seeds are left out of their own regression.

    Raises:
        ValueError: on a bad shape, ``+inf`` values, bad ``depths``, fewer than two fitted depths, or a
            ``level`` outside (0, 1).
    """
    y = _as_curves(log_norms)
    d, use = _window(y.shape[1], depths, start)
    y = y[:, use]
    slopes, dead, missing = [], 0, 0
    for row in y:
        ok = np.isfinite(row)
        if np.any(row == -np.inf):
            dead += 1
        elif ok.sum() < 2:
            missing += 1
        else:
            slopes.append(_ols_slope(d[ok], row[ok]))
    return Slope.from_seed_slopes(slopes, dead=dead, missing=missing, level=level)


@dataclass(frozen=True)
class Band:
    """Per-depth summary over seeds (arrays of length ``L``, read-only); see :func:`mean_band`.

    Attributes:
        mean: mean over the finite seeds at each depth (NaN where none is finite).
        sd: sample standard deviation, ddof 1 (NaN where ``n_finite < 2``).
        se: ``sd / sqrt(n_finite)``.
        ci_low: ``mean - t_{(1+level)/2, n_finite-1} * se`` (NaN where ``n_finite < 2``).
        ci_high: ``mean + t_{(1+level)/2, n_finite-1} * se``.
        n_finite: seeds with a finite value at that depth.
        n_dead: seeds with ``-inf`` (``J = 0`` exactly) at that depth.
        n_missing: seeds with NaN (failed value) at that depth.
        n_seeds: total seeds ``S`` (``n_finite + n_dead + n_missing``).
        level: confidence level of the interval.
    """

    mean: np.ndarray
    sd: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n_finite: np.ndarray
    n_dead: np.ndarray
    n_missing: np.ndarray
    n_seeds: int
    level: float = 0.95

    @property
    def all_dead(self) -> np.ndarray:
        """Depths where every seed is dead (``n_dead == n_seeds``): plot "J = 0 exactly" there."""
        return self.n_dead == self.n_seeds

    @property
    def half_width(self) -> np.ndarray:
        """Half-width of the interval per depth, ``t_{(1+level)/2, n-1} * se`` (NaN where ``n_finite < 2``)."""
        return (self.ci_high - self.ci_low) / 2.0


def dead_note(band: Band) -> str:
    """``"J = 0 in k/K seeds from depth d"``: ``k`` the most seeds dead at once, ``d`` (1-based) the first depth
    where ``k`` are dead, and ``"(the first from depth d0)"`` when a seed died earlier; ``""`` when no seed is
    dead. A dead network stays dead with depth (a zero product stays zero)."""
    if not band.n_dead.any():
        return ""
    k = int(band.n_dead.max())
    d = int(np.flatnonzero(band.n_dead == k)[0]) + 1
    d0 = int(np.flatnonzero(band.n_dead > 0)[0]) + 1
    return f"J = 0 in {k}/{band.n_seeds} seeds from depth {d}" + (f" (the first from depth {d0})" if d0 < d else "")


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def mean_band(log_norms, *, level: float = 0.95) -> Band:
    """Per-depth mean of ``log ||J^(d)||`` over seeds with a t confidence interval of the mean.

    At each depth, over the ``n`` finite seeds: ``mean = sum(y) / n``, ``sd = sqrt(sum((y - mean)^2) / (n - 1))``,
    ``se = sd / sqrt(n)``, interval ``mean ± t_{(1+level)/2, n-1} * se``. Dead (``-inf``) and missing (NaN) seeds
    are counted in ``n_dead`` / ``n_missing`` and not averaged, so the mean is conditional on survival: show
    ``n_dead`` next to it. A depth where all seeds are dead has mean NaN and ``n_dead == S``.

    Args:
        log_norms: array ``(seeds, L)`` or ``(L,)`` of natural-log norms.
        level: confidence level of the interval.

    Returns:
        A :class:`Band` of per-depth arrays.

    Raises:
        ValueError: on a bad shape, ``+inf`` values or a ``level`` outside (0, 1).
    """
    level = _check_level(level)
    y = _as_curves(log_norms)
    finite = np.isfinite(y)
    n = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(finite, y, 0.0).sum(axis=0) / np.where(n > 0, n, np.nan)
        ss = np.where(finite, (y - mean) ** 2, 0.0).sum(axis=0)
        sd = np.sqrt(ss / np.where(n > 1, n - 1, np.nan))
        se = sd / np.sqrt(n)
    half = _t_quantile(level, n - 1) * se
    arrays = (mean, sd, se, mean - half, mean + half, n, (y == -np.inf).sum(axis=0), np.isnan(y).sum(axis=0))
    return Band(*(_readonly(np.asarray(a)) for a in arrays), n_seeds=y.shape[0], level=level)


@dataclass(frozen=True)
class Ranking:
    """Settings ranked by distance ``|slope - target|`` (closest first); see :func:`compare_slopes`.

    Attributes:
        order: ``(name, Slope)`` pairs, closest to ``target`` first; settings with no usable seed (NaN) last.
        target: the slope aimed at (0: stable).
        best: name of the closest setting (None if no setting has a finite slope).
        runner_up: name of the second closest finite setting (None if there is none).
        diff: ``|b_2 - target| - |b_1 - target|`` (>= 0), runner-up minus best.
        diff_se: ``sqrt(se_1^2 + se_2^2)``.
        df: Welch-Satterthwaite degrees of freedom of ``diff``.
        p_value: two-sided p-value of ``diff`` under no difference in distance.
        distinguishable: ``p_value < 1 - level``; None when it cannot be assessed (a setting with < 2 seeds).
        level: confidence level of the decision.
        method: the test, in words.
    """

    order: tuple[tuple[str, Slope], ...]
    target: float
    best: str | None
    runner_up: str | None
    diff: float
    diff_se: float
    df: float
    p_value: float
    distinguishable: bool | None
    level: float
    method: str

    def summary(self) -> str:
        """One line, every number with its CI half-width, e.g. ``"most stable: exact (+0.0010 ± 0.0020/layer);
        not distinguishable from random (+0.0040 ± 0.0030/layer) at 95% (p = 0.31)"``."""
        slopes = dict(self.order)
        pct = f"{round(100 * self.level, 6):g}%"
        head = "most stable" if self.target == 0 else f"closest to {self.target:+g}/layer"
        dead = [n for n, s in self.order if s.n_seeds == 0]
        tail = f"; no live seed (J = 0 exactly or missing): {', '.join(dead)}" if dead else ""
        if self.best is None:
            return f"{head}: undetermined, no setting has a usable seed{tail}"
        text = f"{head}: {self.best} ({slopes[self.best].format('/layer')}, {pct} CI)"
        if self.runner_up is None:
            return f"{text}; only one setting{tail}"
        other = f"{self.runner_up} ({slopes[self.runner_up].format('/layer')})"
        if self.distinguishable is None:
            return f"{text}; cannot be compared with {other}: fewer than 2 seeds, no uncertainty{tail}"
        verdict = "distinguishable" if self.distinguishable else "not distinguishable"
        return f"{text}; {verdict} from {other} at {pct} (p = {self.p_value:.2g}){tail}"


_METHOD = (
    "Welch t test on the difference of distances |b_2 - target| - |b_1 - target| of the best two settings, "
    "SE sqrt(se_1^2 + se_2^2) (delta method: the fold |.| is ignored, conservative near the target), "
    "Welch-Satterthwaite degrees of freedom, two-sided"
)


def _welch(a: Slope, b: Slope, diff: float, level: float) -> tuple[float, float, float, bool | None]:
    """``(diff_se, df, p_value, distinguishable)`` for the distance difference of ``a`` (best) and ``b``."""
    if a.n_seeds < 2 or b.n_seeds < 2:
        return math.nan, math.nan, math.nan, None
    va, vb = a.se**2, b.se**2
    se = math.sqrt(va + vb)
    if se == 0.0:  # identical seeds in both settings: no noise, the order is exact
        p = 0.0 if diff > 0 else 1.0
        return 0.0, math.inf, p, p < 1 - level
    df = (va + vb) ** 2 / (va**2 / (a.n_seeds - 1) + vb**2 / (b.n_seeds - 1))
    p = float(2.0 * stats.t.sf(abs(diff) / se, df))
    return se, df, p, p < 1 - level


def compare_slopes(slopes: Mapping[str, Slope], target: float = 0.0, *, level: float = 0.95) -> Ranking:
    """Rank settings by ``|b - target|`` and test whether the best is distinguishable from the runner-up.

    With best ``b_1`` and runner-up ``b_2`` (smallest distances), ``diff = |b_2 - target| - |b_1 - target|``,
    ``SE = sqrt(se_1^2 + se_2^2)``, ``t = diff / SE`` on Welch-Satterthwaite
    ``df = SE^4 / (se_1^4/(S_1-1) + se_2^4/(S_2-1))``; two-sided ``p = 2 P(T_df > t)``; distinguishable iff
    ``p < 1 - level``. The fold ``|.|`` is ignored (delta method): exact when both slopes are clearly on one
    side of ``target``, conservative when one straddles it. Ties keep the input order. The test treats the two
    settings as independent samples; jacstab's sweeps are paired (settings share their seeds' draws), and the
    positive correlation this induces makes the independent-samples SE an over-estimate: the test is conservative
    (it may say "not distinguishable" where a paired test would not), never anti-conservative.

    Args:
        slopes: setting name -> :class:`Slope` (e.g. from :func:`growth_slope`).
        target: the slope aimed at (0 for a stable network).
        level: confidence level of the decision.

    Returns:
        A :class:`Ranking`; its :meth:`Ranking.summary` states the claim with its uncertainty.

    Raises:
        ValueError: if ``slopes`` is empty or ``level`` is outside (0, 1).
    """
    level = _check_level(level)
    if not slopes:
        raise ValueError("compare_slopes needs at least one setting")
    dist = {k: abs(s.value - target) for k, s in slopes.items()}
    names = sorted(slopes, key=lambda k: (math.isnan(dist[k]), 0.0 if math.isnan(dist[k]) else dist[k]))
    live = [k for k in names if not math.isnan(dist[k])]
    best = live[0] if live else None
    runner = live[1] if len(live) > 1 else None
    diff = dist[runner] - dist[best] if runner is not None else math.nan
    se, df, p, dis = _welch(slopes[best], slopes[runner], diff, level) if runner else (math.nan,) * 3 + (None,)
    order = tuple((k, slopes[k]) for k in names)
    return Ranking(order, float(target), best, runner, diff, se, df, p, dis, level, _METHOD)
