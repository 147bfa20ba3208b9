"""Run experiments into the store: skip finished trials, compute the rest, write each as it finishes.

Workers compute (:mod:`jacstab.lab.executors`: a process pool, Dask, or in-process for ``serial``), reused across
the experiments of one :class:`Sweeper`; only the driver writes. A trial that raises is
stored with status ``error`` and its message, and the sweep goes on. Ctrl-C cancels the pending trials; every
finished one is already committed, and rerunning the same command finishes the rest with no duplicates.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from jacstab._checks import EXECUTORS, check_choice, check_real
from jacstab.lab.catalog import register
from jacstab.lab.executors import CHUNK_TARGET_S, DaskExecutor, ProcessExecutor, SerialExecutor
from jacstab.lab.experiment import Experiment
from jacstab.lab.store import Store, TrialResult


@dataclass(frozen=True)
class SweepSummary:
    """Counts of one sweep: ``skipped`` (finished trials reused), ``done`` (computed now), ``retried`` (of those,
    earlier errors computed again), ``errors`` (failed now, stored with their message)."""

    experiment: str
    trials: int
    skipped: int
    done: int
    errors: int
    retried: int = 0
    legacy: int = 0


def check_run_options(executor: str, workers: int | None, address: str | None, *, cli: bool = False) -> None:
    """The executor options, checked before anything runs (the CLI calls it before opening the store); ``cli``
    words the errors with the flags (``--workers``) instead of the keywords (``workers``)."""
    name = (lambda k: f"--{k}") if cli else (lambda k: k)
    check_choice(name("executor"), executor, EXECUTORS)
    if workers is not None and workers < 1:
        raise ValueError(f"{name('workers')} must be >= 1, got {workers}")
    if address is not None and executor != "dask":
        where = f"--executor dask only, not --executor {executor}" if cli else "executor='dask' only"
        raise ValueError(f"{name('address')} applies to {where}")


class Sweeper:
    """Runs experiments into stores on one executor, started on first use and reused until :meth:`close` (a
    context manager): ``jacstab reproduce`` starts its workers once, not once per experiment.

    Args:
        executor: ``serial`` (in this process), ``process`` (a local process pool, one per core by default) or
            ``dask`` (Dask distributed: the scheduler at ``address``, e.g. ``tcp://host:8786``, else a LocalCluster
            of ``workers`` processes; dask-jobqueue clusters expose such an address).
        workers: worker processes (``None``: one per core; ignored by ``serial`` and a remote Dask scheduler).
        address: a Dask scheduler (``executor="dask"`` only).
        chunk_s: compute per task once trial durations are known (:class:`jacstab.lab.executors.ChunkSizer`;
            ``0``: one trial per task; at most 3600).

    Raises:
        ValueError: a bad option (:func:`check_run_options`, ``chunk_s`` outside ``[0, 3600]``), or Dask missing
            or unreachable.
    """

    def __init__(self, executor: str = "process", workers: int | None = None, address: str | None = None, *,
                 chunk_s: float = CHUNK_TARGET_S) -> None:
        check_run_options(executor, workers, address)
        chunk_s = check_real("chunk_s", chunk_s, 0.0, 3600.0)
        n = workers or os.cpu_count() or 1
        if executor == "dask":
            self.executor = DaskExecutor(n, address, target_s=chunk_s)
        elif executor == "process":
            self.executor = ProcessExecutor(n, target_s=chunk_s)
        else:
            self.executor = SerialExecutor()

    def __enter__(self) -> Sweeper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the workers (or the Dask client and the LocalCluster this sweeper started)."""
        self.executor.close()

    def run(self, exp: Experiment, store: Store, *, progress: Callable[[int, int], None] | None = None,
            retry_errors: bool = True) -> SweepSummary:
        """Compute every trial of ``exp`` not yet in ``store``; ``progress(done, total)`` after each trial.

        Args:
            exp: the experiment; store: where finished trials are written (each in one transaction).
            progress: called after each trial with the trials finished now and those to compute.
            retry_errors: recompute trials stored with an error.

        Returns:
            The counts (:class:`SweepSummary`).
        """
        todo = exp.trials()
        register(store, exp)  # so reports and exports know which experiments hold which trials
        status = store.statuses(t.id for t in todo)
        pending = [t for t in todo if status.get(t.id) is None or (retry_errors and status[t.id] == "error")]
        retrying = {t.id for t in pending if t.id in status}
        counts = {"done": 0, "error": 0, "retried": 0}

        def record(res: TrialResult) -> None:
            store.write(res)
            counts["done" if res.status == "done" else "error"] += 1
            counts["retried"] += res.trial_id in retrying
            if progress is not None:
                progress(counts["done"] + counts["error"], len(pending))

        self.executor.map(pending, record)
        return SweepSummary(
            exp.name, len(todo), len(todo) - len(pending), counts["done"], counts["error"], counts["retried"],
            store.legacy_count(),
        )


def run_experiment(
    exp: Experiment,
    store: Store,
    *,
    executor: str = "process",
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    address: str | None = None,
    retry_errors: bool = True,
) -> SweepSummary:
    """Compute every trial of ``exp`` not yet in ``store`` on a :class:`Sweeper` of its own (its workers end when
    it returns); ``progress(done, total)`` after each trial.

    Args:
        exp, store, progress, retry_errors: as :meth:`Sweeper.run`; executor, workers, address: as
            :class:`Sweeper`.

    Returns:
        The counts (:class:`SweepSummary`).

    Raises:
        ValueError: a bad executor option, or Dask missing or unreachable.
    """
    with Sweeper(executor, workers, address) as sweeper:
        return sweeper.run(exp, store, progress=progress, retry_errors=retry_errors)
