"""Where a sweep's trials are computed: in this process, on a local process pool, or on Dask distributed.

An executor is started once and reused for every experiment a :class:`~jacstab.lab.runner.Sweeper` runs (a worker
process costs about 2 s to import torch on a 2-core machine; ``jacstab reproduce`` used to pay that once per
experiment). Workers compute, only the driver writes.

Trials go to the workers in chunks (:class:`ChunkSizer`): one trial per task until durations are known, then as
many as fill about :data:`CHUNK_TARGET_S` of compute, never so many that the last tasks leave a worker idle. Each
trial of a chunk is computed by :func:`~jacstab.lab.trials.compute` exactly as alone (the same thread count, no
state shared between trials), so results are bit-identical to the serial executor, and each finished trial is
still written in its own transaction. At most ``2 x workers`` tasks are in flight, so a stop (Ctrl-C, SIGTERM, a
dying worker) loses at most those.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from jacstab.lab.store import TrialResult
from jacstab.lab.trials import Trial, compute

CHUNK_TARGET_S = 0.25  # compute per task once durations are known: amortises the ~1 ms round trip to < 1%
MAX_CHUNK = 64
Record = Callable[[TrialResult], None]


def run_chunk(fn: Callable[[Trial], TrialResult], trials: list[Trial]) -> list[TrialResult]:
    """Compute each trial of a chunk (in a worker).

    Args:
        fn: the per-trial computation (:func:`~jacstab.lab.trials.compute`; tests pass stand-ins).
        trials: the chunk.

    Returns:
        One result per trial, in order (``compute`` stores a trial's exception as an ``error`` result).
    """
    return [fn(t) for t in trials]


def dead_worker(trial: Trial, what: str) -> TrialResult:
    """The stored error of a trial whose worker process died (killed, out of memory, segfault).

    Args:
        trial: the trial; what: why, after ``WorkerDied:`` in the stored error.

    Returns:
        An ``error`` result with no values.
    """
    from jacstab._version import __version__

    return TrialResult(trial.id, trial.spec.canonical_json(), trial.seed, trial.metric_names, __version__, {},
                       "error", f"WorkerDied: {what}", None, trial.identity_json())


class ChunkSizer:
    """How many trials the next task carries.

    ``size(remaining)`` is 1 until a duration has been observed; then ``CHUNK_TARGET_S / mean duration``, capped
    at :data:`MAX_CHUNK` and at ``remaining / (4 x slots)`` so the sweep's tail still spreads over every worker.

    Args:
        slots: how many tasks run at once (the workers).
        target_s: compute per task to aim at (``0`` disables chunking: always 1).
    """

    def __init__(self, slots: int, target_s: float = CHUNK_TARGET_S) -> None:
        self.slots, self.target_s = max(1, slots), target_s
        self.total_s, self.count = 0.0, 0

    def observe(self, duration_s: float | None) -> None:
        """Count one finished trial's compute seconds (``None``, no duration: ignored)."""
        if duration_s is not None:
            self.total_s, self.count = self.total_s + duration_s, self.count + 1

    def size(self, remaining: int) -> int:
        """The next chunk's size (>= 1) given ``remaining`` trials not yet sent."""
        if self.count == 0 or self.target_s <= 0:
            return 1
        by_time = int(self.target_s / max(self.total_s / self.count, 1e-6))
        return max(1, min(by_time, MAX_CHUNK, remaining // (4 * self.slots)))


Lost = list[tuple[list[Trial], BaseException]]


def feed(trials: list[Trial], record: Record, submit: Callable[[list[Trial]], Any], wait_first,
         slots: int | Callable[[], int], *, stop_on_loss: bool, target_s: float = CHUNK_TARGET_S,
         cancel: Callable[[list], Any] | None = None) -> tuple[Lost, list[Trial]]:
    """Submit ``trials`` in chunks, at most ``2 x slots`` tasks in flight, and record each result as it comes.

    Args:
        submit: ``chunk -> future`` (a ``concurrent.futures`` or Dask future of :func:`run_chunk`).
        wait_first: ``futures -> done`` (the finished ones, at least one).
        slots: the tasks that run at once, or a callable read again after each wait (a Dask cluster that scales).
        stop_on_loss: a future that raises means the executor is gone (a broken process pool): submit nothing
            more and collect what was in flight.
        cancel: called with the futures in flight when recording raises or the sweep is interrupted.

    Returns:
        ``(lost, unsent)``: ``(chunk, exception)`` for each chunk whose future raised, in submission order, and the
        trials never submitted.
    """
    slots_now = slots if callable(slots) else (lambda: slots)
    todo, sizer = deque(trials), ChunkSizer(slots_now(), target_s)
    inflight: dict[Any, tuple[int, list[Trial]]] = {}
    lost: list[tuple[int, list[Trial], BaseException]] = []
    order = 0
    try:
        while inflight or (todo and not (lost and stop_on_loss)):
            sizer.slots = max(1, slots_now())
            while todo and len(inflight) < 2 * sizer.slots and not (lost and stop_on_loss):
                chunk = [todo.popleft() for _ in range(min(sizer.size(len(todo)), len(todo)))]
                inflight[submit(chunk)] = (order, chunk)
                order += 1
            for f in sorted(wait_first(list(inflight)), key=lambda f: inflight[f][0]):
                key = inflight.pop(f)
                try:
                    results = f.result()
                except Exception as e:  # the worker died (BrokenProcessPool, Dask's KilledWorker): chunk lost
                    lost.append((*key, e))
                    continue
                for res in results:
                    sizer.observe(res.duration_s)
                    record(res)
    except BaseException:
        if cancel is not None:
            cancel(list(inflight))
        raise
    return [(chunk, e) for _, chunk, e in sorted(lost, key=lambda k: k[0])], list(todo)


def _wait_first(futures: Iterable) -> set:
    return wait(futures, return_when=FIRST_COMPLETED).done


class SerialExecutor:
    """Every trial in this process, in order (``executor="serial"``)."""

    slots = 1

    def map(self, trials: list[Trial], record: Record) -> None:
        """Compute ``trials`` and ``record`` each result."""
        for trial in trials:
            record(compute(trial))

    def close(self) -> None:
        pass


class ProcessExecutor:
    """A local pool of ``workers`` spawned processes, started on first use and kept until :meth:`close`.

    A worker that dies (killed, out of memory) breaks the pool and every task in it. The chunks that may have been
    running (the first ``workers + 1`` lost, in submission order) are run again one trial at a time in a
    one-worker pool, so an innocent trial completes and the trial that kills its worker is stored as a
    ``WorkerDied`` error; the other lost chunks and the unsent trials go to a fresh full pool (the sweep goes on).
    Ctrl-C or SIGTERM: pending trials are dropped, workers ended, committed trials kept.

    Args:
        workers: processes (>= 1).
        target_s: compute per task (:class:`ChunkSizer`; ``0``: one trial per task).
    """

    def __init__(self, workers: int, *, target_s: float = CHUNK_TARGET_S) -> None:
        self.slots, self.target_s = workers, target_s
        self._pool: ProcessPoolExecutor | None = None

    def map(self, trials: list[Trial], record: Record) -> None:
        """Compute ``trials`` on the pool and ``record`` each result in the driver. A single trial with no pool
        started yet runs in this process (starting workers would cost more than the trial)."""
        if len(trials) == 1 and self._pool is None:
            record(compute(trials[0]))
            return
        queue = trials
        while queue:
            lost, unsent = self._round(queue, record, self.slots)
            if lost:  # the pool is gone: the chunks that may have been running are retried one trial at a time
                self._isolate([t for chunk, _ in lost[: self.slots + 1] for t in chunk], record)
            queue = [t for chunk, _ in lost[self.slots + 1 :] for t in chunk] + unsent

    def _round(self, trials: list[Trial], record: Record, n: int) -> tuple[Lost, list[Trial]]:
        if self._pool is None:
            self._pool = _new_pool(n)
        pool, fn = self._pool, compute  # ``compute`` is looked up here, so a test can replace it

        def submit(chunk: list[Trial]) -> Future:
            try:
                return pool.submit(run_chunk, fn, chunk)
            except BrokenProcessPool as e:  # broken before its first lost future reached us
                failed: Future = Future()
                failed.set_exception(e)
                return failed

        try:
            lost, unsent = feed(trials, record, submit, _wait_first, n, stop_on_loss=True, target_s=self.target_s)
        except BaseException:  # Ctrl-C, SIGTERM or an error: end the workers, keep what is committed
            self._terminate()
            raise
        if lost:  # a broken pool cannot take more work
            self.close()
        return lost, unsent

    def _isolate(self, trials: list[Trial], record: Record) -> None:
        """Each trial alone in a one-worker pool (kept while its trials finish, replaced when one kills it); called
        once the broken pool is gone, and leaves no pool behind."""
        try:
            for trial in trials:
                lost, _ = self._round([trial], record, 1)
                if lost:
                    record(dead_worker(trial, "its worker process died (killed, or out of memory)"))
        finally:
            self.close()

    def _terminate(self) -> None:
        # Terminate first and let the pool fail its own pending futures: cancelling them before the workers die
        # makes Python 3.11's pool thread raise InvalidStateError on a cancelled future (a traceback on stderr).
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            if proc.is_alive():
                proc.terminate()
        pool.shutdown(wait=True)

    def close(self) -> None:
        """End the workers (idle ones exit at once)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


def _new_pool(n: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"))  # no fork of torch


class DaskExecutor:
    """Dask distributed: the scheduler at ``address`` (e.g. ``tcp://host:8786``; dask-jobqueue clusters expose
    one), else a LocalCluster of ``workers`` processes, started on first use and kept until :meth:`close`.

    Dask reschedules a task whose worker died (its allowed-failures policy, plus one retry). A chunk that still
    fails is split and its trials run again one per task; a single trial that fails so is stored as a
    ``WorkerDied`` error and the sweep goes on.

    Raises:
        ValueError: Dask distributed is not installed, or the scheduler cannot be reached.
    """

    def __init__(self, workers: int, address: str | None = None, *, target_s: float = CHUNK_TARGET_S) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError as e:
            raise ValueError("executor 'dask' needs Dask distributed: pip install 'jacstab[dask]'") from e
        self.workers, self.address, self.target_s = workers, address, target_s
        self._client = self._cluster = None

    def _start(self):
        from distributed import Client, LocalCluster

        if self._client is None:
            if self.address is None:
                self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                             dashboard_address=None)
                self._client = Client(self._cluster)
            else:
                try:
                    self._client = Client(self.address, timeout=30)
                except OSError as e:
                    raise ValueError(f"cannot reach the Dask scheduler at {self.address!r} ({e})") from e
        return self._client

    def map(self, trials: list[Trial], record: Record) -> None:
        """Compute ``trials`` on the cluster and ``record`` each result in the driver."""
        from distributed import wait as dask_wait

        if not trials:
            return
        client, fn = self._start(), compute

        seen = [0.0, 1]  # (when, threads): the cluster's threads, asked at most once a second (it may scale)

        def slots() -> int:
            if time.monotonic() - seen[0] > 1.0:
                seen[:] = [time.monotonic(), sum(client.nthreads().values())]
            return seen[1]

        lost, _ = feed(trials, record, lambda chunk: client.submit(run_chunk, fn, chunk, pure=False, retries=1),
                       lambda fs: dask_wait(fs, return_when="FIRST_COMPLETED").done, slots, stop_on_loss=False,
                       target_s=self.target_s, cancel=client.cancel)
        for chunk, e in lost:
            if len(chunk) > 1:
                self._singly(chunk, record)
            else:
                record(dead_worker(chunk[0], f"its Dask task failed ({type(e).__name__}: {e})"))

    def _singly(self, trials: list[Trial], record: Record) -> None:
        saved, self.target_s = self.target_s, 0.0
        try:
            self.map(trials, record)
        finally:
            self.target_s = saved

    def close(self) -> None:
        """Close the client, and the LocalCluster if this executor started it."""
        client, cluster, self._client, self._cluster = self._client, self._cluster, None, None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
