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
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from jacstab._checks import EXECUTORS, check_choice
from jacstab.lab.catalog import register
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
    check_run_options(executor, workers, address)
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

    if executor == "dask":
        _run_dask(pending, exp, record, workers, address)
    elif executor == "serial" or len(pending) <= 1:
        for trial in pending:
            record(compute(trial))
    else:
        _run_pool(pending, record, workers or os.cpu_count() or 1)
    return SweepSummary(
        exp.name, len(todo), len(todo) - len(pending), counts["done"], counts["error"], counts["retried"],
        store.legacy_count(),
    )


def _dead_worker(trial: Trial, what: str) -> TrialResult:
    """The stored error of a trial whose worker process died (killed, out of memory, segfault)."""
    from jacstab._version import __version__

    return TrialResult(trial.id, trial.spec.canonical_json(), trial.seed, trial.metric_names, __version__, {},
                       "error", f"WorkerDied: {what}", None, trial.identity_json())


def _run_pool(pending: list[Trial], record: Callable[[TrialResult], None], n: int) -> None:
    """A local process pool. A worker that dies (killed, out of memory) breaks the pool and every trial in flight
    or queued in it; the ones that were in flight are run again one at a time, each in its own one-worker pool, so
    an innocent trial completes and the trial that kills its worker is stored as a ``WorkerDied`` error; the ones
    that were only queued go back to a full pool (the sweep goes on).
    Ctrl-C or SIGTERM: pending trials are dropped, workers ended, committed trials kept."""
    queue = pending
    while queue:
        lost = _pool_round(queue, record, n)
        # the earliest-submitted lost trials were in flight when the pool broke (n running, one prefetched): each
        # runs alone in a one-worker pool; the rest were only queued and go back to a full pool
        head, queue = lost[: n + 1], lost[n + 1 :]
        for trial in head:
            if _pool_round([trial], record, 1):
                record(_dead_worker(trial, "its worker process died (killed, or out of memory)"))


def _pool_round(trials: list[Trial], record: Callable[[TrialResult], None], n: int) -> list[Trial]:
    """Run ``trials`` in one pool of ``n`` workers; return those lost to a broken pool."""
    pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"))  # no fork of torch
    futures = {pool.submit(compute, trial): trial for trial in trials}
    lost: list[Trial] = []
    try:
        waiting = set(futures)
        while waiting:
            finished, waiting = wait(waiting, return_when=FIRST_COMPLETED)
            for f in finished:
                try:
                    record(f.result())
                except BrokenProcessPool:
                    lost.append(futures[f])
    except BaseException:  # Ctrl-C, SIGTERM or an error: end the workers, keep what is committed
        # Terminate first and let the pool fail its own pending futures: cancelling them before the workers die
        # makes Python 3.11's pool thread raise InvalidStateError on a cancelled future (a traceback on stderr).
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            if proc.is_alive():
                proc.terminate()
        raise
    finally:
        pool.shutdown(wait=True)
    return sorted(lost, key=trials.index)


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
        # Dask reschedules a task whose worker died (its allowed-failures policy); retries=1 covers one more fault
        futures = [client.submit(compute, trial, pure=False, retries=1) for trial in pending]
        try:
            for f in as_completed(futures):
                record(f.result())
        finally:
            client.cancel(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
