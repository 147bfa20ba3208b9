"""``train``: the paper's MLP trained on real data (Section 6), a row per epoch with ``log ||J||`` beside accuracy."""

from __future__ import annotations

from typing import Any

import click

from jacstab._checks import DATASETS, OPTIMIZERS
from jacstab.cli._common import api, device_of, dtype_of, note, progress, rows_out, seed_range, spec_from
from jacstab.cli._options import Choice, Command, _stack, format_option, network_options, option

COLUMNS = ["seed", "epoch", "lr", "train_loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy", "log_norm",
           "diverged"]


def train_options(f):
    """The data and optimisation options of ``train`` (and of training sweeps)."""
    group = "Training"
    opts = [
        option("--dataset", group=group, type=Choice(DATASETS), default="fashion-mnist", show_default=True,
               help="fashion-mnist (Debian package dataset-fashion-mnist), mnist or idx (any folder; need "
               "--data-dir)."),
        option("--data-dir", group=group, default=None,
               help="Folder with the four IDX files (default for fashion-mnist: /usr/share/datasets/fashion-mnist)."),
        option("--epochs", group=group, type=int, required=True, help="Epochs E (rows for epochs 0..E)."),
        option("--lr", "lrs", group=group, type=float, multiple=True,
               help="Learning rate; repeat for a grid chosen on the validation split (paper: 0.1, 0.01, 0.001, "
               "0.0001). Default 0.01."),
        option("--batch-size", group=group, type=int, default=128, show_default=True),
        option("--subset", group=group, type=int, default=None, help="Training examples used (default: all)."),
        option("--optimizer", group=group, type=Choice(OPTIMIZERS), default="sgd", show_default=True),
        option("--momentum", group=group, type=float, default=0.0, show_default=True, help="SGD momentum."),
        option("--keep-orthogonal", "orthogonal_param", group=group, is_flag=True,
               help="Keep --init orthogonal hidden matrices orthogonal while training (trainable orthogonal "
               "parametrisation, paper 003)."),
        option("--jac-reg", group=group, type=float, default=0.0, show_default=True,
               help="mu: add mu E_v ||J^T J v - v||^2 (E[v v^T] = I/n) to each minibatch loss (paper 003)."),
        option("--jac-probes", group=group, type=int, default=1, show_default=True,
               help="Examples per minibatch the --jac-reg penalty is estimated on (one probe each)."),
        option("--all-lrs", group=group, is_flag=True,
               help="Rows of every learning rate of the grid, with a 'chosen' column (default: the chosen one)."),
    ]
    return _stack(opts)(f)


@click.command(cls=Command, example=[
    "jacstab train --width 128 --depth 20 --epochs 2 --subset 10000 --lr 0.1 --lr 0.01 --lr 0.001",
    "jacstab train -n 256 -L 50 --prune random --sparsity 0.9 --scaling random --epochs 5 --format csv",
    "jacstab train -n 64 -L 50 --activation groupsort --init orthogonal --sigma2 1 --keep-orthogonal --epochs 1 "
    "--subset 2000",
    "jacstab train -n 64 -L 20 --jac-reg 0.01 --epochs 1 --subset 2000",
])
@network_options(dtype="float32")
@train_options
@format_option(progress=True)
def train(lrs: tuple[float, ...], all_lrs: bool, **o: Any) -> None:
    """Train the network `jacstab measure` would sample, with SGD and cross-entropy: rows {seed, epoch, lr,
    train_loss, val_loss, val_accuracy, test_loss, test_accuracy, log_norm, diverged}.

    Epoch 0 is at initialisation; log_norm = log ||J|| (natural log) at the first test image. With several --lr the
    one with the best final validation accuracy is chosen (test data never enters the choice) and its rows are
    printed once the seed's grid is done; a diverged run (non-finite loss) is recorded at chance accuracy. Ctrl-C
    keeps every finished epoch's rows.
    """
    lrs = lrs or (0.01,)
    spec, seeds = spec_from(o), seed_range(o)
    dev, dtype = device_of(o["device"]), dtype_of(o["dtype"])
    training = api("training")
    ds = training.load_dataset(o["dataset"], o["data_dir"], subset=o["subset"])
    columns = COLUMNS + (["chosen"] if all_lrs else [])
    kw = {"epochs": o["epochs"], "lr": lrs, "batch_size": o["batch_size"], "optimizer": o["optimizer"],
          "momentum": o["momentum"], "device": dev, "dtype": dtype, "orthogonal_param": o["orthogonal_param"],
          "jac_reg": o["jac_reg"], "jac_probes": o["jac_probes"]}
    training.loop.check_arguments(spec, ds, **kw)  # every argument error before any output
    note(f"data: {ds.describe()}; log_norm at test image 0")
    total = len(seeds) * len(lrs) * (o["epochs"] + 1)
    with rows_out(columns, o["fmt"]) as out, progress(o["progress"], total, "train") as advance:
        for seed in seeds:
            done: list[dict[str, Any]] = []

            def on_epoch(rec, seed=seed, done=done):
                advance(1)
                row = {"seed": seed, **rec.as_row()}
                if len(lrs) == 1:  # nothing to choose: stream each epoch
                    out.write_rows([{**row, "chosen": True}])
                done.append(row)

            try:
                result = training.train(spec, ds, seed=seed, callback=on_epoch, **kw)
            except KeyboardInterrupt:
                if len(lrs) > 1 and done:
                    note(f"interrupted before seed {seed}'s learning-rate choice: rows of every lr trained so far")
                    out.write_rows([{**r, "chosen": None} for r in done])
                raise
            if len(lrs) > 1:
                out.write_rows([{**r, "chosen": r["lr"] == result.chosen_lr} for r in done
                                if all_lrs or r["lr"] == result.chosen_lr])
                final = result.final
                note(f"seed {seed}: lr {result.chosen_lr:g} chosen on validation accuracy {final.val_accuracy:.4f} "
                     f"(grid {', '.join(f'{v:g}' for v in lrs)}); its test accuracy {final.test_accuracy:.4f}")


COMMANDS = (train,)
