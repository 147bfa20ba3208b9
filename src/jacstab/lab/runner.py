"""Run an experiment into the store: skip finished trials, compute the rest, write each as it finishes.

Workers compute (a process pool, or in-process for ``serial``); only the driver writes. A trial that raises is
stored with status ``error`` and its message, and the sweep goes on. Ctrl-C cancels the pending trials; every
finished one is already committed, and rerunning the same command finishes the rest with no duplicates.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass

from jacstab.lab.experiment import Experiment
from jacstab.lab.store import Store, TrialResult, trial_id

EXECUTORS = ("serial", "process", "dask")


def _version() -> str:
    from jacstab import __version__

    return __version__


def _worker_init(threads: int) -> None:
    """Give each worker its share of the cores: torch's default (all cores per process) oversubscribes them."""
    import torch

    torch.set_num_threads(threads)


def compute_trial(spec_json: str, seed: int, metrics: tuple[str, ...], k: int | None) -> TrialResult:
    """Sample the trial's network and measure its metrics; errors become a stored ``error`` result."""
    import json

    from jacstab import certify, depth_curve, lyapunov_exponents, sample, singular_values
    from jacstab.specs import NetSpec

    tid = trial_id(spec_json, seed, metrics, _version())
    t0 = time.perf_counter()
    try:
        net = sample(NetSpec.from_dict(json.loads(spec_json)), seed)
        values: dict[str, list[float]] = {}
        for m in metrics:
            if m == "depth_curve":
                values[m] = depth_curve(net).tolist()
            elif m == "spectrum":
                values[m] = singular_values(net, k=k, log=True).tolist()
            elif m == "lyapunov":
                values[m] = lyapunov_exponents(net, k=k).tolist()
            else:
                values[m] = [item.value for item in certify(net).items]
        return TrialResult(tid, spec_json, seed, metrics, _version(), values, duration_s=time.perf_counter() - t0)
    except Exception as e:  # recorded, the sweep goes on
        return TrialResult(
            tid, spec_json, seed, metrics, _version(), {}, "error", f"{type(e).__name__}: {e}", time.perf_counter() - t0
        )


@dataclass(frozen=True)
class SweepSummary:
    experiment: str
    trials: int
    skipped: int
    done: int
    errors: int


def run_experiment(
    exp: Experiment,
    store: Store,
    *,
    executor: str = "process",
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    address: str | None = None,
) -> SweepSummary:
    """Compute every trial of ``exp`` not yet in ``store``; ``progress(done, total)`` after each trial.

    ``executor``: ``serial`` (in this process), ``process`` (a local process pool, one per core by default) or
    ``dask`` (Dask distributed: the scheduler at ``address``, e.g. ``tcp://host:8786``, else a LocalCluster of
    ``workers`` processes; dask-jobqueue clusters expose such an address).
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    version = _version()
    todo = []
    for spec, seed in exp.trials():
        sj = spec.canonical_json()
        todo.append((trial_id(sj, seed, exp.metrics, version), sj, seed))
    have = store.finished(t[0] for t in todo)
    pending = [t for t in todo if t[0] not in have]
    counts = {"done": 0, "error": 0}

    def record(res: TrialResult) -> None:
        store.write(res)
        counts["done" if res.status == "done" else "error"] += 1
        if progress is not None:
            progress(counts["done"] + counts["error"], len(pending))

    if address is not None and executor != "dask":
        raise ValueError("address applies to executor='dask' only")
    if executor == "dask":
        _run_dask(pending, exp, record, workers, address)
    elif executor == "serial" or len(pending) <= 1:
        for _, sj, seed in pending:
            record(compute_trial(sj, seed, exp.metrics, exp.k))
    else:
        n = workers or os.cpu_count() or 1
        ctx = multiprocessing.get_context("spawn")  # no fork of a threaded torch process
        threads = max(1, (os.cpu_count() or 1) // n)
        pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_worker_init, initargs=(threads,))
        futures = {pool.submit(compute_trial, sj, seed, exp.metrics, exp.k) for _, sj, seed in pending}
        try:
            while futures:
                finished, futures = wait(futures, return_when=FIRST_COMPLETED)
                for f in finished:
                    record(f.result())
        finally:  # Ctrl-C or an error: drop what has not started, keep what is committed
            for f in futures:
                f.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
    return SweepSummary(exp.name, len(todo), len(todo) - len(pending), counts["done"], counts["error"])


def _run_dask(pending, exp: Experiment, record, workers: int | None, address: str | None) -> None:
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
        client.run(_worker_init, 1)
        futures = [client.submit(compute_trial, sj, seed, exp.metrics, exp.k, pure=False) for _, sj, seed in pending]
        try:
            for f in as_completed(futures):
                record(f.result())
        finally:
            client.cancel(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
