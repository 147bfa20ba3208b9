"""The lab: results store (sweeps, executors, figures and report are issue 4's remaining parts)."""

from jacstab.lab.store import DEFAULT_PATH, Store, TrialResult, trial_id

__all__ = ["DEFAULT_PATH", "Store", "TrialResult", "trial_id"]
