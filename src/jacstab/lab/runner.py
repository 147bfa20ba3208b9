"""Run an experiment into the store: skip finished trials, compute the rest, write each as it finishes.

Workers compute (a process pool, or in-process for ``serial``); only the driver writes. A trial that raises is
stored with status ``error`` and its message, and the sweep goes on. Ctrl-C cancels the pending trials; every
finished one is already committed, and rerunning the same command finishes the rest with no duplicates.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass

from jacstab._checks import EXECUTORS, check_choice
from jacstab.lab.experiment import Experiment
from jacstab.lab.store import Store, TrialResult
from jacstab.lab.trials import Trial, compute


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
    """Compute every trial of ``exp`` not yet in ``store``; ``progress(done, total)`` after each trial.

    ``executor``: ``serial`` (in this process), ``process`` (a local process pool, one per core by default) or
    ``dask`` (Dask distributed: the scheduler at ``address``, e.g. ``tcp://host:8786``, else a LocalCluster of
    ``workers`` processes; dask-jobqueue clusters expose such an address).
    """
    check_choice("executor", executor, EXECUTORS)
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    todo = exp.trials()
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

    if address is not None and executor != "dask":
        raise ValueError("address applies to executor='dask' only")
    if executor == "dask":
        _run_dask(pending, exp, record, workers, address)
    elif executor == "serial" or len(pending) <= 1:
        for trial in pending:
            record(compute(trial))
    else:
        n = workers or os.cpu_count() or 1
        ctx = multiprocessing.get_context("spawn")  # no fork of a threaded torch process
        pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx)  # each trial fixes its own thread count
        futures = {pool.submit(compute, trial) for trial in pending}
        try:
            while futures:
                finished, futures = wait(futures, return_when=FIRST_COMPLETED)
                for f in finished:
                    record(f.result())
        finally:  # Ctrl-C or an error: drop what has not started, keep what is committed
            for f in futures:
                f.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
    return SweepSummary(
        exp.name, len(todo), len(todo) - len(pending), counts["done"], counts["error"], counts["retried"],
        store.legacy_count(),
    )


def _run_dask(pending: list[Trial], exp: Experiment, record, workers: int | None, address: str | None) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as e:
        raise ValueError("executor 'dask' needs Dask distributed: pip install 'jacstab[dask]'") from e
    cluster = None
    if address is None:
        n = workers or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout=30)
        except OSError as e:
            raise ValueError(f"cannot reach the Dask scheduler at {address!r} ({e})") from e
    try:
        futures = [client.submit(compute, trial, pure=False) for trial in pending]
        try:
            for f in as_completed(futures):
                record(f.result())
        finally:
            client.cancel(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
