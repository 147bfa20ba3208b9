"""A stand-in for jacstab.lab.trials.compute whose worker process dies on seed 1 (importable by spawned workers)."""

import os
import signal


def compute_or_die(trial):
    if trial.seed == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    from jacstab.lab.trials import compute

    return compute(trial)


def compute_or_die_late(trial):
    """Dies on seed 25: late enough in a 40-seed sweep to be inside a chunk of several trials."""
    if trial.seed == 25:
        os.kill(os.getpid(), signal.SIGKILL)
    from jacstab.lab.trials import compute

    return compute(trial)


def compute_or_raise(trial):
    """Raises (outside jacstab's own error capture) on seed 5: the task itself fails, as a lost Dask task does."""
    if trial.seed == 5:
        raise RuntimeError("task lost")
    from jacstab.lab.trials import compute

    return compute(trial)
