"""Training on real data (paper Section 6): IDX datasets without downloads and the training loop; and the
fixed-gates singular-value dynamics on a linear teacher (paper 002, :mod:`jacstab.training.teacher`).

``jacstab.train``, ``jacstab.load_dataset`` and ``jacstab.teacher_dynamics`` are the public entry points (see README,
"Training" and "Spectral structure").
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
from jacstab.training.teacher import TeacherRun, teacher_dynamics, teacher_matrix

__all__ = ["DATASETS", "OPTIMIZERS", "PAPER_LRS", "DataError", "Dataset", "EpochRecord", "TeacherRun", "TrainResult",
           "check_arguments", "choose_lr", "class_balanced_batch", "dataset_input", "fingerprint", "load_dataset",
           "loop", "pruning_batch", "read_idx", "teacher_dynamics", "teacher_matrix", "train"]
