"""Datasets (IDX reader, registry, splits) and the training loop (jacstab.train), on tiny IDX files written here."""

import dataclasses
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import jacstab
from _idx import idx_bytes, write_dataset, write_idx
from jacstab.training import DataError, choose_lr, load_dataset, read_idx, train
from jacstab.training.data import DEFAULT_DIRS, SPLIT_SEED
from jacstab.training.loop import EpochRecord, _Run

FMNIST = Path(DEFAULT_DIRS["fashion-mnist"])


# --- the IDX reader -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, ">i2", ">i4", ">f4", ">f8"])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path, dtype, gz):
    arr = (np.arange(2 * 3 * 5) % 7 - (0 if dtype == np.uint8 else 3)).astype(dtype).reshape(2, 3, 5)
    path = write_idx(tmp_path / "a-idx3", arr, gz)
    got = read_idx(path)
    assert got.shape == (2, 3, 5) and np.array_equal(got, arr)  # exact: same bytes


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b"\x08\x03" + b[2:], "bad magic"),  # first two bytes must be zero
        (lambda b: b[:2] + b"\x07" + b[3:], "bad magic"),  # unknown type code
        (lambda b: b[:-1], "truncated or corrupt"),
        (lambda b: b + b"\x00", "truncated or corrupt"),
        (lambda b: b[:6], "truncated IDX header"),
        (lambda b: b"", "bad magic"),
    ],
)
def test_malformed_idx_gives_one_line(tmp_path, mutate, message):
    path = tmp_path / "bad-idx1"
    path.write_bytes(mutate(idx_bytes(np.arange(10, dtype=np.uint8))))
    with pytest.raises(DataError, match=message) as e:
        read_idx(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_bad_gzip_is_a_data_error(tmp_path):
    path = tmp_path / "x-idx1.gz"
    path.write_bytes(b"\x1f\x8b" + b"garbage")
    with pytest.raises(DataError, match="cannot read IDX file"):
        read_idx(path)


def test_label_count_mismatch(tmp_path):
    folder = write_dataset(tmp_path / "d", train=50, test=20)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(19, np.uint8))
    with pytest.raises(DataError, match="20 test images but 19 test labels"):
        load_dataset("idx", folder)


def test_missing_dataset_names_folder_and_remedy(tmp_path):
    with pytest.raises(DataError, match=f"not found in {tmp_path}.*dataset-fashion-mnist"):
        load_dataset("fashion-mnist", tmp_path)
    with pytest.raises(DataError, match=r"no default folder.*--data-dir"):
        load_dataset("mnist")
    with pytest.raises(DataError, match=r"unknown dataset 'fashoin-mnist'.*did you mean 'fashion-mnist'"):
        load_dataset("fashoin-mnist")


# --- splits and normalisation ---------------------------------------------------------------------------------


def test_split_is_fixed_disjoint_and_normalised(toy):
    ds = load_dataset("idx", toy, val_size=100)
    raw = read_idx(toy / "train-images-idx3-ubyte").reshape(600, -1)
    labels = read_idx(toy / "train-labels-idx1-ubyte")
    perm = np.random.default_rng(SPLIT_SEED).permutation(600)  # independent recomputation of the split
    assert len(ds.y_val) == 100 and len(ds.y_train) == 500 and len(ds.y_test) == 200
    assert np.array_equal(ds.y_val.numpy(), labels[perm[:100]])
    assert np.array_equal(ds.y_train.numpy(), labels[perm[100:]])
    pix = raw[perm[100:]] / 255.0
    assert ds.mean == pytest.approx(pix.mean(), rel=1e-12) and ds.std == pytest.approx(pix.std(), rel=1e-12)
    # float32 normalisation of 32,000 pixels: mean 0 and std 1 up to float32 rounding (~1e-6)
    assert abs(float(ds.x_train.double().mean())) < 1e-5 and float(ds.x_train.double().std()) == pytest.approx(1, 1e-4)
    sub = load_dataset("idx", toy, val_size=100, subset=50)
    assert torch.equal(sub.y_train, ds.y_train[:50]) and torch.equal(sub.y_val, ds.y_val)


def test_bad_subset_and_val_size(toy):
    with pytest.raises(ValueError, match="subset"):
        load_dataset("idx", toy, subset=0)
    with pytest.raises(ValueError, match="subset"):
        load_dataset("idx", toy, subset=551)  # 600 - 50 validation examples are left
    with pytest.raises(ValueError, match="val_size"):
        load_dataset("idx", toy, val_size=400)


def test_fingerprint_follows_the_bytes(tmp_path):
    a = write_dataset(tmp_path / "a")
    b = write_dataset(tmp_path / "b")  # same bytes elsewhere: same fingerprint
    c = write_dataset(tmp_path / "c", seed=1)
    fp = jacstab.training.fingerprint
    assert fp("idx", a) == fp("idx", b) != fp("idx", c)


# --- training ---------------------------------------------------------------------------------------------------

SPEC = jacstab.NetSpec(width=64, depth=2)


def test_one_epoch_lowers_the_loss(toy):
    r = train(SPEC, "idx", data_dir=toy, epochs=1, lr=0.05, batch_size=32, seed=0)
    h = r.history
    assert [e.epoch for e in h] == [0, 1] and not h[-1].diverged
    assert h[1].val_loss < h[0].val_loss and h[1].train_loss < h[0].train_loss
    # 10 classes: chance is 0.1; the toy patterns are separable, so one epoch must beat chance by far
    assert h[1].test_accuracy > 0.5
    assert r.examples == 550 and r.spec.in_dim == 64


def test_trained_model_starts_as_the_sampled_network(toy):
    ds = load_dataset("idx", toy)
    spec = SPEC.replace(in_dim=64)
    net = jacstab.sample(spec, 3)
    run = _Run(net, ds.to(dtype=torch.float64), 0.1, "sgd", 0.0, 32, 3, torch.device("cpu"), torch.float64,
               ds.x_test[0].double())
    x = ds.x_test[:7].double()
    assert torch.equal(run.forward(x), net(x))  # same weights, same recurrence: bitwise equal
    r = train(SPEC, ds, epochs=1, lr=0.1, seed=3, dtype=torch.float64)
    # epoch 0's log||J|| is the engine's value for the sampled network at the probe (the first test image)
    assert r.history[0].log_norm == jacstab.log_norm(net, ds.x_test[0].double())


@pytest.mark.parametrize("optimizer, momentum", [("sgd", 0.0), ("sgd", 0.9), ("adam", 0.0)])
def test_pruned_weights_stay_exactly_zero(toy, optimizer, momentum):
    spec = SPEC.replace(prune="random", sparsity=0.7, scaling="random")
    r = train(spec, "idx", data_dir=toy, epochs=2, lr=0.01, seed=1, optimizer=optimizer, momentum=momentum)
    before = jacstab.sample(r.spec, 1)
    for w0, w1 in zip(before.weights, r.network.weights):
        assert torch.equal(w1 == 0, w0 == 0)  # the mask is kept exactly, nothing revived
        assert not torch.equal(w1, w0.float().double())  # kept weights did move


def test_learning_rate_is_chosen_on_validation_only(toy):
    ds = load_dataset("idx", toy)
    rng = torch.Generator().manual_seed(0)
    garbled = dataclasses.replace(ds, y_test=torch.randint(0, 10, ds.y_test.shape, generator=rng))
    grid = [1.0, 0.1, 0.001]
    a = train(SPEC, ds, epochs=2, lr=grid, seed=0)
    b = train(SPEC, garbled, epochs=2, lr=grid, seed=0)
    # changing the test labels changes test metrics but neither the validation histories nor the choice
    assert a.chosen_lr == b.chosen_lr
    for lr in grid:
        assert [e.val_accuracy for e in a.histories[lr]] == [e.val_accuracy for e in b.histories[lr]]
    assert any(ea.test_accuracy != eb.test_accuracy for ea, eb in zip(a.history, b.history))
    best = max(grid, key=lambda lr: (a.histories[lr][-1].val_accuracy, -a.histories[lr][-1].val_loss))
    assert a.chosen_lr == best


def test_choose_lr_reads_validation_not_test():
    def rec(lr, val, test, diverged=False):
        return (EpochRecord(1, lr, 1.0, 1.0, val, 1.0, test, 0.0, diverged),)

    hist = {0.1: rec(0.1, 0.9, 0.2), 0.01: rec(0.01, 0.5, 0.99), 1.0: rec(1.0, 0.95, 0.99, diverged=True)}
    assert choose_lr(hist) == 0.1  # best validation among the runs that did not diverge
    assert choose_lr({1.0: rec(1.0, 0.1, 0.1, True), 2.0: rec(2.0, 0.1, 0.1, True)}) == 1.0


def test_same_seed_same_history(toy):
    a = train(SPEC, "idx", data_dir=toy, epochs=2, lr=0.05, seed=4)
    b = train(SPEC, "idx", data_dir=toy, epochs=2, lr=0.05, seed=4)
    c = train(SPEC, "idx", data_dir=toy, epochs=2, lr=0.05, seed=5)
    assert a.rows() == b.rows() and a.rows() != c.rows()


def test_divergence_is_recorded_not_raised(toy):
    r = train(SPEC.replace(sigma2=50.0), "idx", data_dir=toy, epochs=3, lr=[1e3, 0.01], seed=0)
    bad = r.histories[1e3]
    assert bad[0].diverged is False and all(e.diverged for e in bad[1:])
    assert all(e.test_accuracy == 0.1 and math.isnan(e.test_loss) for e in bad[1:])  # chance = 1/10 classes
    assert r.chosen_lr == 0.01


def test_training_argument_errors(toy):
    with pytest.raises(ValueError, match="in_dim=32 but idx images have d = 64"):
        train(SPEC.replace(in_dim=32), "idx", data_dir=toy, epochs=1)
    with pytest.raises(ValueError, match="out_dim=5 but idx has 10 classes"):
        train(SPEC.replace(out_dim=5), "idx", data_dir=toy, epochs=1)
    with pytest.raises(ValueError, match="repeated"):
        train(SPEC, "idx", data_dir=toy, epochs=1, lr=[0.1, 0.1])
    with pytest.raises(ValueError, match="optimizer"):
        train(SPEC, "idx", data_dir=toy, epochs=1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="epochs"):
        train(SPEC, "idx", data_dir=toy, epochs=0)
    with pytest.raises(ValueError, match="lr"):
        train(SPEC, "idx", data_dir=toy, epochs=1, lr=-1)
    with pytest.raises(ValueError, match="subset is for dataset names"):
        train(SPEC, load_dataset("idx", toy), epochs=1, subset=10)
    with pytest.raises(ValueError, match="probe_index"):
        train(SPEC, "idx", data_dir=toy, epochs=1, probe_index=200)  # the toy test set has 200 images


@pytest.mark.skipif(not FMNIST.is_dir() and os.environ.get("CI") != "true",
                    reason="Debian package dataset-fashion-mnist not installed (CI installs it)")
def test_real_fashion_mnist():
    ds = load_dataset("fashion-mnist", subset=2000)
    assert ds.dim == 784 and ds.classes == 10 and len(ds.y_test) == 10000 and len(ds.y_val) == 5000
    r = train(jacstab.NetSpec(width=64, depth=2), ds, epochs=1, lr=0.05, seed=0)
    # 2,000 examples, one epoch: a depth-2 MLP reaches well above chance (measured ~0.7; chance 0.1)
    assert r.final.test_accuracy > 0.5
