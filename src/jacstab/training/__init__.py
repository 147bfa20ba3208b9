"""Training on real data (paper Section 6): IDX datasets without downloads and the training loop.

``jacstab.train`` and ``jacstab.load_dataset`` are the public entry points (see README, "Training").
"""

from jacstab.training import loop
from jacstab.training.data import (
    DATASETS,
    DataError,
    Dataset,
    class_balanced_batch,
    dataset_input,
    fingerprint,
    load_dataset,
    pruning_batch,
    read_idx,
)
from jacstab.training.loop import OPTIMIZERS, PAPER_LRS, EpochRecord, TrainResult, check_arguments, choose_lr, train

__all__ = ["DATASETS", "OPTIMIZERS", "PAPER_LRS", "DataError", "Dataset", "EpochRecord", "TrainResult",
           "check_arguments", "choose_lr", "class_balanced_batch", "dataset_input", "fingerprint", "load_dataset",
           "loop", "pruning_batch", "read_idx", "train"]
