"""Sweeps that scale (issue 16, item 3): one executor reused across experiments, trials sent in chunks, and the
fallbacks when a worker or a task dies; every path compared exactly with the serial executor."""

import json

import pytest

import _killer
import jacstab.lab.executors as executors
from jacstab.cli import main
from jacstab.lab import Store
from jacstab.lab.executors import MAX_CHUNK, ChunkSizer
from jacstab.lab.experiment import parse_experiment
from jacstab.lab.runner import Sweeper, run_experiment


def _exp(name: str, seeds: int, **net):
    return parse_experiment({"name": name, "seeds": seeds, "metrics": ["depth_curve"],
                             "net": {"width": 8, "depth": 3, **net}})


def _values(store: Store) -> list:
    key = lambda r: (r["trial_id"], r["metric"], r["index"])  # noqa: E731
    return [(key(r), r["value"]) for r in sorted(store.rows(), key=key) if r["metric"] is not None]


def _serial(tmp_path, exps) -> list:
    with Store(tmp_path / "serial.sqlite") as st:
        for exp in exps:
            run_experiment(exp, st, executor="serial")
        return _values(st)


@pytest.fixture
def spy(monkeypatch):
    """Records the size of every pool started and of every chunk sent."""
    seen = {"pools": [], "chunks": []}
    real_pool, real_size = executors._new_pool, ChunkSizer.size
    monkeypatch.setattr(executors, "_new_pool", lambda n: seen["pools"].append(n) or real_pool(n))

    def size(self, remaining):
        seen["chunks"].append(real_size(self, remaining))
        return seen["chunks"][-1]

    monkeypatch.setattr(ChunkSizer, "size", size)
    return seen


def test_chunk_sizes_follow_the_durations_and_leave_a_balanced_tail():
    sizer = ChunkSizer(2, target_s=0.25)
    assert sizer.size(1000) == 1  # nothing observed yet
    for _ in range(4):
        sizer.observe(0.01)
    sizer.observe(None)  # a result without a duration does not count
    assert sizer.size(1000) == 25 and sizer.size(80) == 10 and sizer.size(7) == 1
    sizer.observe(0.0)
    assert ChunkSizer(1, target_s=100.0).size(10**6) == 1 and sizer.size(10**6) <= MAX_CHUNK
    fast = ChunkSizer(1, target_s=100.0)
    fast.observe(1e-9)
    assert fast.size(10**6) == MAX_CHUNK
    off = ChunkSizer(2, target_s=0.0)
    off.observe(0.01)
    assert off.size(1000) == 1


def test_one_pool_for_every_experiment_and_chunks_give_serial_results(tmp_path, spy):
    exps = [_exp("a", 40), _exp("b", 40, depth=4)]
    with Store(tmp_path / "p.sqlite") as st, Sweeper("process", 2, chunk_s=10.0) as sweeper:
        summaries = [sweeper.run(exp, st) for exp in exps]
        again = sweeper.run(exps[0], st)  # all stored: nothing sent, the pool is kept
        assert [(s.done, s.errors) for s in summaries] == [(40, 0), (40, 0)] and again.skipped == 40
        assert spy["pools"] == [2] and max(spy["chunks"]) > 1
        assert _values(st) == _serial(tmp_path, exps)


def test_a_worker_dying_inside_a_chunk_loses_only_its_trial(tmp_path, spy, monkeypatch):
    exp = _exp("k", 40)
    reference = _serial(tmp_path, [exp])  # before the killer replaces compute (the serial executor calls it too)
    monkeypatch.setattr(executors, "compute", _killer.compute_or_die_late)
    with Store(tmp_path / "k.sqlite") as st:
        with Sweeper("process", 2, chunk_s=10.0) as sweeper:
            s = sweeper.run(exp, st)
        assert (s.done, s.errors) == (39, 1) and max(spy["chunks"]) > 1
        assert spy["pools"][:2] == [2, 1] and spy["pools"].count(2) >= 2  # isolated, then a fresh full pool
        dead = exp.trials()[25].id
        (err,) = {r["error"] for r in st.rows() if r["trial_id"] == dead}
        assert err.startswith("WorkerDied")
        assert [v for v in _values(st) if v[0][0] != dead] == [v for v in reference if v[0][0] != dead]


def test_a_single_trial_runs_in_the_driver_until_a_pool_is_up(tmp_path, spy):
    with Store(tmp_path / "one.sqlite") as st, Sweeper("process", 2) as sweeper:
        assert sweeper.run(_exp("one", 1), st).done == 1
        assert spy["pools"] == []
        assert _values(st) == _serial(tmp_path, [_exp("one", 1)])


def test_dask_reuses_its_cluster_chunks_and_splits_a_failed_chunk(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    starts = []
    real_start = executors.DaskExecutor._start
    monkeypatch.setattr(executors.DaskExecutor, "_start",
                        lambda self: starts.append(self._client is None) or real_start(self))
    exps = [_exp("a", 24), _exp("b", 24, depth=4)]
    with Store(tmp_path / "d.sqlite") as st, Sweeper("dask", 2, chunk_s=10.0) as sweeper:
        assert [sweeper.run(e, st).done for e in exps] == [24, 24]
        assert starts == [True, False]  # one LocalCluster for both experiments
        assert _values(st) == _serial(tmp_path, exps)
        # a task that fails (as one whose every worker died): its chunk is split, only the bad trial is an error
        monkeypatch.setattr(executors, "compute", _killer.compute_or_raise)
        bad = _exp("bad", 24, depth=5)
        s = sweeper.run(bad, st)
        assert (s.done, s.errors) == (23, 1)
        (err,) = {r["error"] for r in st.rows() if r["trial_id"] == bad.trials()[5].id}
        assert err.startswith("WorkerDied") and "task lost" in err


def test_reproduce_starts_one_pool_for_all_its_experiments(tmp_path, spy, capsys):
    store = tmp_path / "r.sqlite"
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "fig1", "gates", "--quick", "--store", str(store), "--out", str(tmp_path / "rep"),
              "--executor", "process", "--workers", "2", "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert e.value.code == 0 and [(r["done"], r["skipped"]) for r in rows] == [(6, 0), (2, 2)] and spy["pools"] == [2]
    exps = [_builtin(n) for n in ("fig1", "gates")]
    with Store(store) as st:
        assert _values(st) == _serial(tmp_path, exps)


def _builtin(name):
    from jacstab.lab.builtin import builtin_experiment

    return builtin_experiment(name, quick=True)


def test_a_pool_that_breaks_at_submission_ends_the_sweep_with_every_trial_recorded(tmp_path, monkeypatch):
    # the pool can break between two submissions, before any of its futures has failed: submit itself raises
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    class Broken:
        def __init__(self):
            self.calls = 0

        def submit(self, *args):
            self.calls += 1
            if self.calls > 1:
                raise BrokenProcessPool("gone")
            f = Future()
            f.set_exception(BrokenProcessPool("gone"))
            return f

        def shutdown(self, wait=True):
            pass

    monkeypatch.setattr(executors, "_new_pool", lambda n: Broken())
    exp = _exp("broken", 7)
    with Store(tmp_path / "b.sqlite") as st:
        s = run_experiment(exp, st, executor="process", workers=2)
        assert (s.done, s.errors) == (0, 7)
        assert all(r["error"].startswith("WorkerDied") for r in st.rows())


def test_feed_cancels_what_is_in_flight_when_recording_fails():
    from concurrent.futures import ThreadPoolExecutor

    trials, cancelled, seen = _exp("c", 12).trials(), [], []

    def record(res):
        seen.append(res)
        if len(seen) == 3:
            raise OSError("disk full")

    with ThreadPoolExecutor(2) as pool, pytest.raises(OSError, match="disk full"):
        executors.feed(trials, record, lambda chunk: pool.submit(executors.run_chunk, executors.compute, chunk),
                       executors._wait_first, 2, stop_on_loss=True, cancel=cancelled.extend)
    assert len(seen) == 3 and 1 <= len(cancelled) <= 4  # at most 2 x slots tasks were ever in flight


@pytest.mark.parametrize("bad", [-0.1, float("nan"), 1e9, "1"])
def test_sweeper_rejects_a_bad_chunk_time(bad):
    with pytest.raises(ValueError, match=r"chunk_s must be a finite number in \[0.0, 3600.0\]"):
        Sweeper("serial", chunk_s=bad)
