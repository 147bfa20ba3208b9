"""The lab: trials and the metric registry, experiments, the crash-safe store, executors, analysis, figures, report."""

from jacstab.lab.metrics import METRICS, REGISTRY, Metric
from jacstab.lab.store import DEFAULT_PATH, Store, TrialResult
from jacstab.lab.trials import MetricCall, Trial

__all__ = ["DEFAULT_PATH", "METRICS", "REGISTRY", "Metric", "MetricCall", "Store", "Trial", "TrialResult"]
