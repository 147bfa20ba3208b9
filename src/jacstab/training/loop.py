"""Training the paper's MLP on real data (paper Section 6: SGD, cross-entropy, a learning-rate grid chosen on
validation), with ``log ||J||`` tracked per epoch so that "stable at initialisation -> stable during training" can be
seen (paper Section 7).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from jacstab._checks import OPTIMIZERS, check_choice, check_int, check_real
from jacstab.nets.network import Network
from jacstab.nets.sampling import check_device, sample
from jacstab.nets.streams import generator
from jacstab.specs import NetSpec
from jacstab.training.data import Dataset, load_dataset, pruning_batch
from jacstab.training.regularisers import STREAM_PROBES, OrthogonalHidden, jacobian_penalty, probe_vectors

PAPER_LRS = (1e-1, 1e-2, 1e-3, 1e-4)  # the paper's grid (Section 6)
STREAM_TRAIN = 20  # batch order; independent of every sampling stream
EVAL_BATCH = 4096
ROW_FIELDS = ("epoch", "lr", "train_loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy", "log_norm",
              "diverged")


@dataclass(frozen=True)
class EpochRecord:
    """One epoch of one learning rate. ``epoch`` 0 is at initialisation (``train_loss`` there is the loss on the
    first ``min(5000, m)`` training examples; afterwards it is the mean minibatch loss of the epoch). ``log_norm``
    is ``log ||J||`` (natural log, float64, the engine's log-domain path) at the probe input. A diverged run (a
    non-finite loss) records chance accuracy, NaN losses and NaN ``log_norm`` from that epoch on."""

    epoch: int
    lr: float
    train_loss: float
    val_loss: float
    val_accuracy: float
    test_loss: float
    test_accuracy: float
    log_norm: float
    diverged: bool

    def as_row(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ROW_FIELDS}


@dataclass(frozen=True, eq=False)
class TrainResult:
    """Histories of every learning rate of the grid and the one chosen on validation accuracy.

    Attributes:
        spec: the trained law (``in_dim`` set to the data dimension); seed; dataset: one line describing the data;
        histories: ``{lr: (EpochRecord, ...)}`` (epochs 0..E); chosen_lr: the lr with the highest final
        validation accuracy among runs that did not diverge (ties: lower final validation loss; all diverged:
        the first lr); network: the trained network of the chosen lr (float64 copy, provenance ``modified``);
        seconds: wall time of the training steps (evaluation excluded); examples: training examples processed.
    """

    spec: NetSpec
    seed: int
    dataset: str
    histories: dict[float, tuple[EpochRecord, ...]]
    chosen_lr: float
    network: Network
    seconds: float = 0.0
    examples: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def history(self) -> tuple[EpochRecord, ...]:
        """The chosen learning rate's epochs."""
        return self.histories[self.chosen_lr]

    @property
    def final(self) -> EpochRecord:
        return self.history[-1]

    def rows(self, all_lrs: bool = False) -> list[dict[str, Any]]:
        """Rows ``{seed, epoch, lr, ...}`` of the chosen lr (or every lr, with ``chosen``)."""
        lrs = list(self.histories) if all_lrs else [self.chosen_lr]
        out = []
        for lr in lrs:
            for rec in self.histories[lr]:
                row = {"seed": self.seed, **rec.as_row()}
                if all_lrs:
                    row["chosen"] = lr == self.chosen_lr
                out.append(row)
        return out


def train(spec: NetSpec, dataset: str | Dataset = "fashion-mnist", *, epochs: int, lr: float | Sequence[float] = 0.01,
          batch_size: int = 128, seed: int = 0, optimizer: str = "sgd", momentum: float = 0.0,
          subset: int | None = None, data_dir=None, device=None, dtype: torch.dtype = torch.float32,
          probe_index: int = 0, callback: Callable[[EpochRecord], None] | None = None, orthogonal_param: bool = False,
          jac_reg: float = 0.0, jac_probes: int = 1) -> TrainResult:
    """Train the network ``jacstab.sample(spec, seed)`` draws (same weights) on ``dataset`` with cross-entropy.

    Loss and update (paper Section 1, the gradient-descent rule; Section 6: SGD, lr grid chosen on validation)::

        L(W) = (1/|B|) sum_{i in B} CE(W_out phi(Y_L(x_i)), z_i),    W <- W - lr * grad_W L

    on minibatches ``B``.

    ``W_in`` is ``n x d`` for the data dimension ``d`` (``spec.in_dim`` must be ``None`` or ``d``), ``W_out`` is
    ``classes x n`` (``spec.out_dim`` must equal the number of classes). Pruned weights stay exactly zero (their
    gradients are masked, so SGD, momentum and Adam never move them) and the sampled scaling is kept; correlated and
    orthogonal inits are trained as sampled. Every learning rate of the grid starts from the same weights and sees
    the same batches (common random numbers, batch order from ``(seed, STREAM_TRAIN)``); the chosen one is picked on
    the validation split only (paper Section 6: grid ``{1e-1, 1e-2, 1e-3, 1e-4}``); test metrics are reported per
    epoch for information and never read by the choice.

    Args:
        spec: the network law; dataset: a name (``fashion-mnist``, ``mnist``, ``idx``) or a loaded
            :class:`~jacstab.training.data.Dataset`; epochs: ``E >= 1``; lr: one learning rate or a grid;
        batch_size: minibatch size; seed: sampling and batch-order seed; optimizer: ``sgd`` (the paper's) or ``adam``;
        momentum: SGD momentum (0 = plain SGD); subset: training examples kept (``None``: all);
        data_dir: folder of the IDX files; device: ``cpu``/``cuda``; dtype: training dtype (float32 default);
        probe_index: the test image at which ``log ||J||`` is measured each epoch;
        callback: called with each finished :class:`EpochRecord` (progress, streaming);
        orthogonal_param: keep every hidden matrix ``sqrt(sigma2)`` times an orthogonal matrix during training
            (``init='orthogonal'``, unpruned; :class:`~jacstab.training.regularisers.OrthogonalHidden`, paper 003);
        jac_reg: ``mu >= 0``, weight of the Jacobian-orthogonality penalty ``mu E_v ||J^T J v - v||^2`` added to
            each minibatch loss (:func:`~jacstab.training.regularisers.jacobian_penalty`; ``E[v v^T] = I/n``);
        jac_probes: ``p``, examples of each minibatch (one probe vector each) the penalty is estimated on.

    Returns:
        :class:`TrainResult`.

    Raises:
        ValueError: bad arguments, dimension mismatch; DataError: missing or malformed dataset.
    """
    if isinstance(dataset, Dataset) and subset is not None:
        raise ValueError("subset is for dataset names; slice a loaded Dataset yourself")
    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset, data_dir, subset=subset)
    spec, lrs, dev = check_arguments(spec, ds, epochs=epochs, lr=lr, batch_size=batch_size, optimizer=optimizer,
                                     momentum=momentum, device=device, dtype=dtype, orthogonal_param=orthogonal_param,
                                     jac_reg=jac_reg, jac_probes=jac_probes)
    extra = {"orthogonal_param": bool(orthogonal_param), "jac_reg": float(jac_reg), "jac_probes": int(jac_probes)}
    probe_index = check_int("probe_index", probe_index, 0, len(ds.y_test) - 1)
    net0 = sample(spec, seed, data=pruning_batch(spec, seed, data_dir))  # snip/grasp on a dataset batch
    probe = ds.x_test[probe_index].to(torch.float64)
    data = ds.to(dev, dtype)
    histories, results, seconds, examples, initial = {}, {}, 0.0, 0, None
    for rate in lrs:
        run = _Run(net0, data, rate, optimizer, momentum, batch_size, seed, dev, dtype, probe, **extra)
        if initial is None:  # epoch 0 is the same network for every lr: evaluate it once
            initial = run.record(0, None)
        records = [dataclasses.replace(initial, lr=rate)]
        if callback:
            callback(records[0])
        for epoch in range(1, epochs + 1):
            if records[-1].diverged:
                rec = _diverged(epoch, rate, data.classes)
            else:
                t0 = time.perf_counter()
                loss = run.epoch()
                seconds += time.perf_counter() - t0
                examples += len(data.y_train)
                rec = run.record(epoch, loss)
            records.append(rec)
            if callback:
                callback(rec)
        histories[rate], results[rate] = tuple(records), run
    chosen = choose_lr(histories)
    return TrainResult(spec, seed, ds.describe(), histories, chosen, results[chosen].network(), seconds, examples)


def check_arguments(spec: NetSpec, ds: Dataset, *, epochs: int, lr, batch_size: int, optimizer: str,
                    momentum: float, device, dtype: torch.dtype, orthogonal_param: bool = False, jac_reg: float = 0.0,
                    jac_probes: int = 1) -> tuple[NetSpec, tuple[float, ...], torch.device]:
    """Validate :func:`train`'s arguments against the data (before any work): the spec fitted to the data
    dimension, the learning-rate grid and the device.

    Raises:
        ValueError, TypeError: as :func:`train`.
    """
    check_int("epochs", epochs, 1, 100000)
    check_int("batch_size", batch_size, 1)
    lrs = _check_lrs(lr)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_real("momentum", momentum, 0.0, 0.999999)
    if optimizer != "sgd" and momentum != 0:
        raise ValueError(f"momentum is an SGD option; optimizer={optimizer!r} takes none")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    dev = check_device(device) or torch.device("cpu")
    check_real("jac_reg", jac_reg, 0.0, 1e6)
    check_int("jac_probes", jac_probes, 1, batch_size)
    if orthogonal_param and (not isinstance(spec, NetSpec) or spec.init != "orthogonal" or spec.pruning.active):
        raise ValueError("orthogonal_param keeps orthogonal hidden matrices orthogonal: it needs init='orthogonal' "
                         "and no pruning")
    return _fit_spec(spec, ds), lrs, dev


def choose_lr(histories: dict[float, Sequence[EpochRecord]]) -> float:
    """The learning rate with the highest final validation accuracy among runs that did not diverge (ties: lower
    final validation loss, then the first in the grid); all diverged: the first. Reads validation numbers only."""
    alive = [(lr, h[-1]) for lr, h in histories.items() if not h[-1].diverged]
    if not alive:
        return next(iter(histories))
    return max(alive, key=lambda item: (item[1].val_accuracy, -item[1].val_loss))[0]


def _check_lrs(lr) -> tuple[float, ...]:
    lrs = (lr,) if isinstance(lr, (int, float)) else tuple(lr)
    if not lrs:
        raise ValueError("lr must be a learning rate or a non-empty grid of them")
    out = tuple(check_real("lr", v, 0.0, 1e3, open_low=True) for v in lrs)
    if len(set(out)) != len(out):
        raise ValueError(f"the learning-rate grid has repeated values: {list(out)}")
    return out


def _fit_spec(spec: NetSpec, ds: Dataset) -> NetSpec:
    if not isinstance(spec, NetSpec):
        raise TypeError(f"spec must be a NetSpec, got {type(spec).__name__}")
    if spec.in_dim is not None and spec.in_dim != ds.dim:
        raise ValueError(f"in_dim={spec.in_dim} but {ds.name} images have d = {ds.dim} pixels: leave in_dim unset")
    if spec.out_dim != ds.classes:
        raise ValueError(f"out_dim={spec.out_dim} but {ds.name} has {ds.classes} classes: set out_dim={ds.classes}")
    return spec if spec.in_dim == ds.dim else spec.replace(in_dim=ds.dim)


def _diverged(epoch: int, lr: float, classes: int) -> EpochRecord:
    nan, chance = math.nan, 1.0 / classes
    return EpochRecord(epoch, lr, nan, nan, chance, nan, chance, nan, True)


class _Run:
    """One learning rate: parameters, optimiser, masks, batch-order generator."""

    def __init__(self, net0: Network, data: Dataset, lr: float, optimizer: str, momentum: float, batch_size: int,
                 seed: int, dev: torch.device, dtype: torch.dtype, probe: torch.Tensor, *,
                 orthogonal_param: bool = False, jac_reg: float = 0.0, jac_probes: int = 1):
        self.net0, self.data, self.lr, self.batch_size, self.dev, self.probe = net0, data, lr, batch_size, dev, probe
        mk = lambda t: t.detach().to(device=dev, dtype=dtype).clone().requires_grad_(True)  # noqa: E731
        self.w_in, self.w_out = mk(net0.w_in), mk(net0.w_out)
        self.hidden = [mk(w) for w in net0.weights]
        pruned = net0.spec.pruning.active
        self.masks = [(w != 0).to(dtype) for w in self.hidden] if pruned else None
        self.orth = OrthogonalHidden(self.hidden, net0.spec.gain) if orthogonal_param else None
        hidden_params = self.orth.parameters() if self.orth is not None else self.hidden
        params = [self.w_in, *hidden_params, self.w_out]
        self.jac_reg, self.jac_probes, self.dtype = jac_reg, jac_probes, dtype
        self.probe_gen = generator(net0.seed, STREAM_PROBES)
        # the network's own forward pass on the trainable tensors (the optimiser updates them in place)
        self.model = net0.replace(weights=self.hidden, w_in=self.w_in, w_out=self.w_out, provenance=net0.provenance)
        if optimizer == "sgd":
            self.opt = torch.optim.SGD(params, lr=lr, momentum=momentum)
        else:
            self.opt = torch.optim.Adam(params, lr=lr)
        self.gen = generator(net0.seed, STREAM_TRAIN)

    def current(self) -> Network:
        """The network on the trainable tensors (rebuilt from the parametrisation when ``orthogonal_param``)."""
        if self.orth is None:
            return self.model
        self.hidden = self.orth.weights()
        return self.model.replace(weights=self.hidden, provenance=self.model.provenance)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``W_out phi(Y_L)`` with ``Y_0 = W_in x``, ``Y_k = W_k phi(Y_{k-1})`` (paper eq. 1):
        :meth:`Network.__call__` on the trainable weights."""
        return self.current()(x)

    def loss(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of a minibatch, plus ``jac_reg`` times the Jacobian penalty on its first ``jac_probes``
        examples (:func:`~jacstab.training.regularisers.jacobian_penalty`)."""
        model = self.current()
        loss = F.cross_entropy(model(xb), yb)
        if self.jac_reg > 0:
            p = min(self.jac_probes, len(yb))
            v = probe_vectors(p, model.width, generator=self.probe_gen, dtype=self.dtype, device=self.dev)
            loss = loss + self.jac_reg * jacobian_penalty(model, xb[:p], v)
        return loss

    def epoch(self) -> float:
        """One pass over the training split in a seeded random order; the mean minibatch loss (non-finite if the
        run diverged; checked once per epoch, so the GPU is never synchronised per step)."""
        x, y, b = self.data.x_train, self.data.y_train, self.batch_size
        order = torch.randperm(len(y), generator=self.gen).to(self.dev)
        total = torch.zeros((), dtype=torch.float64, device=self.dev)
        for start in range(0, len(y), b):
            idx = order[start:start + b]
            loss = self.loss(x.index_select(0, idx), y.index_select(0, idx))
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            if self.masks is not None:
                for w, m in zip(self.hidden, self.masks):
                    w.grad.mul_(m)
            self.opt.step()
            total += loss.detach() * len(idx)
        return float(total) / len(y)

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """Mean cross-entropy and accuracy over ``(x, y)`` in chunks of ``EVAL_BATCH``."""
        loss = torch.zeros((), dtype=torch.float64, device=self.dev)
        correct = torch.zeros((), dtype=torch.int64, device=self.dev)
        for start in range(0, len(y), EVAL_BATCH):
            logits = self.forward(x[start:start + EVAL_BATCH])
            yb = y[start:start + EVAL_BATCH]
            loss += F.cross_entropy(logits, yb, reduction="sum").double()
            correct += (logits.argmax(1) == yb).sum()
        return float(loss) / len(y), int(correct) / len(y)

    def network(self) -> Network:
        """The current weights as a float64 CPU :class:`Network` (provenance ``modified``)."""
        cpu = lambda t: t.detach().to("cpu", torch.float64)  # noqa: E731
        if self.orth is not None:
            with torch.no_grad():
                self.hidden = self.orth.weights()
        net = self.net0.replace(weights=[cpu(w) for w in self.hidden])
        return net.replace(w_in=cpu(self.w_in), w_out=cpu(self.w_out))

    def record(self, epoch: int, train_loss: float | None) -> EpochRecord:
        d = self.data
        if train_loss is None:
            m = min(5000, len(d.y_train))
            train_loss = self.evaluate(d.x_train[:m], d.y_train[:m])[0]
        if not math.isfinite(train_loss):
            return _diverged(epoch, self.lr, d.classes)
        val_loss, val_acc = self.evaluate(d.x_val, d.y_val)
        test_loss, test_acc = self.evaluate(d.x_test, d.y_test)
        if not (math.isfinite(val_loss) and math.isfinite(test_loss)):
            return _diverged(epoch, self.lr, d.classes)
        return EpochRecord(epoch, self.lr, train_loss, val_loss, val_acc, test_loss, test_acc, self._log_norm(), False)

    def _log_norm(self) -> float:
        from jacstab.engine import log_norm

        try:
            return log_norm(self.network(), self.probe)
        except ValueError:  # non-finite weights: no norm to report
            return math.nan
