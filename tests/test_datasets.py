"""Data sets: the Yin-Yang reference split, digits, user files, MNIST IDX, and clear errors."""

import gzip
import math
import struct

import numpy as np
import pytest

from ghostfpga.golden.datasets import (DatasetError, _yinyang_class, digits, load_dataset,
                                       load_file, mnist, yinyang, yinyang_samples)


@pytest.fixture(scope="module")
def yy():
    return yinyang()


def test_yinyang_split_sizes_and_layout(yy):
    assert yy.x_train.shape == (5000, 4) and yy.x_val.shape == (1000, 4)
    assert yy.x_test.shape == (1000, 4) and yy.n_classes == 3
    for x in (yy.x_train, yy.x_val, yy.x_test):
        np.testing.assert_array_equal(x[:, 2], 1.0 - x[:, 0])
        np.testing.assert_array_equal(x[:, 3], 1.0 - x[:, 1])
        assert x.min() >= 0.0 and x.max() <= 1.0


def test_yinyang_points_lie_in_the_circle_with_their_class(yy):
    for x, c in zip(yy.x_train[:, :2], yy.y_train):
        assert math.hypot(x[0] - 0.5, x[1] - 0.5) <= 0.5
        assert _yinyang_class(*x) == c


def test_yinyang_follows_the_published_rng_sequence():
    # The goal class of sample 0 is the first randint(3) of RandomState(seed).
    for seed in (40, 41, 42):
        _, y = yinyang_samples(1, seed)
        assert y[0] == np.random.RandomState(seed).randint(3)


def test_yinyang_splits_are_deterministic_and_balanced(yy):
    x, y = yinyang_samples(5000, 42)
    np.testing.assert_array_equal(x, yy.x_train)
    np.testing.assert_array_equal(y, yy.y_train)
    counts = np.bincount(yy.y_train)
    assert counts.min() > 1550 and counts.max() < 1800


def test_yinyang_class_regions():
    assert _yinyang_class(0.75, 0.5) == 2       # right dot
    assert _yinyang_class(0.25, 0.5) == 2       # left dot
    assert _yinyang_class(0.25, 0.68) == 1      # ring around the left dot: yin
    assert _yinyang_class(0.5, 0.95) == 1       # top half outside the right ring: yin
    assert _yinyang_class(0.5, 0.05) == 0       # bottom: yang


def test_digits_split_is_fixed_and_stratified():
    d = digits()
    assert d.x_train.shape == (1437, 64) and d.x_test.shape == (360, 64)
    assert d.x_train.max() == 1.0 and d.x_train.min() == 0.0
    test_counts = np.bincount(d.y_test, minlength=10)
    assert test_counts.min() >= 35 and test_counts.max() <= 37
    np.testing.assert_array_equal(d.y_test, digits().y_test)


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_npz_and_csv_load(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(50, 3)), np.arange(50) % 2
    d = load_file(_write_npz(tmp_path / "d.npz", X=X, y=y))
    assert d.n_inputs == 3 and d.n_classes == 2 and len(d.y_train) == 40
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,c,label\n" + "\n".join(",".join(map(str, [*r, c]))
                                                for r, c in zip(X, y)))
    d2 = load_file(csv)
    np.testing.assert_allclose(np.sort(d2.x_train, axis=0), np.sort(d.x_train, axis=0))
    d3 = load_file(_write_npz(tmp_path / "e.npz", X=X, y=y, X_test=X[:5], y_test=y[:5]))
    assert len(d3.y_train) == 50 and len(d3.y_test) == 5


@pytest.mark.parametrize("arrays,message", [
    (dict(y=np.zeros(4)), "missing array 'X'"),
    (dict(X=np.zeros(4), y=np.zeros(4)), "X must be 2-D"),
    (dict(X=np.zeros((4, 2)), y=np.zeros((4, 1))), "y must be 1-D"),
    (dict(X=np.zeros((4, 2)), y=np.zeros(3)), "4 samples but y has 3 labels"),
    (dict(X=np.array([[0.1, np.nan]] * 4), y=np.zeros(4)), "NaN or infinite"),
    (dict(X=np.zeros((4, 2)), y=np.array([0, 1, -1, 0])), "out of range"),
    (dict(X=np.zeros((4, 2)), y=np.array([0, 1, 0.5, 0])), "labels must be integers"),
    (dict(X=np.full((4, 2), 3.0), y=np.array([0, 1, 0, 1])), "--normalize"),
    (dict(X=np.zeros((4, 2)), y=np.zeros(4), X_test=np.zeros((2, 2))), "both X_test and y_test"),
])
def test_bad_npz_files_name_the_problem(tmp_path, arrays, message):
    path = _write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError, match=message.replace("(", r"\(")):
        load_file(path)


def test_labels_beyond_the_output_layer_are_rejected(tmp_path):
    path = _write_npz(tmp_path / "d.npz", X=np.zeros((6, 2)), y=np.array([0, 1, 2, 3, 0, 1]))
    with pytest.raises(DatasetError, match=r"label 3 of sample 3 is out of range \(must be \[0, 3\)\)"):
        load_file(path, n_classes=3)


def test_tiny_files_split_without_stratification_or_fail_clearly(tmp_path):
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    d = load_file(_write_npz(tmp_path / "d.npz", X=X, y=np.array([0, 1, 0, 1])), normalize=True)
    assert len(d.y_train) + len(d.y_test) == 4 and len(d.y_test) >= 1
    with pytest.raises(DatasetError, match="cannot be split"):
        load_file(_write_npz(tmp_path / "e.npz", X=X[:1] / 10, y=np.array([0])), n_classes=2)


def test_normalize_scales_to_unit_range(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(5.0, 3.0, size=(40, 2))
    d = load_file(_write_npz(tmp_path / "d.npz", X=X, y=np.arange(40) % 2), normalize=True)
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    assert d.x_test.min() >= 0.0 and d.x_test.max() <= 1.0


def test_bad_files(tmp_path):
    with pytest.raises(DatasetError, match="no such data file"):
        load_file(tmp_path / "absent.npz")
    (tmp_path / "x.txt").write_text("1,2")
    with pytest.raises(DatasetError, match="unknown data file type"):
        load_file(tmp_path / "x.txt")
    (tmp_path / "r.csv").write_text("0.1,0.2,0\n0.3,0\n")
    with pytest.raises(DatasetError, match="row 2 has 2 columns"):
        load_file(tmp_path / "r.csv")
    (tmp_path / "t.csv").write_text("0.1,0.2,0\n0.3,abc,1\n")
    with pytest.raises(DatasetError, match="line 2 is not a row of numbers"):
        load_file(tmp_path / "t.csv")
    (tmp_path / "c.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="not a readable .npz"):
        load_file(tmp_path / "c.npz")
    with pytest.raises(DatasetError, match="unknown data set"):
        load_dataset("imagenet")


def _idx(data: np.ndarray) -> bytes:
    return bytes([0, 0, 8, data.ndim]) + struct.pack(f">{data.ndim}I", *data.shape) + \
        data.astype(np.uint8).tobytes()


def _write_mnist(folder, compress: bool, n=(20, 10)):
    rng = np.random.default_rng(0)
    names = {"train-images-idx3-ubyte": rng.integers(0, 256, (n[0], 28, 28)),
             "train-labels-idx1-ubyte": rng.integers(0, 10, n[0]),
             "t10k-images-idx3-ubyte": rng.integers(0, 256, (n[1], 28, 28)),
             "t10k-labels-idx1-ubyte": rng.integers(0, 10, n[1])}
    for name, arr in names.items():
        if compress:
            with gzip.open(folder / (name + ".gz"), "wb") as f:
                f.write(_idx(arr))
        else:
            (folder / name).write_bytes(_idx(arr))
    return names


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_idx(tmp_path, compress):
    arrays = _write_mnist(tmp_path, compress)
    d = load_dataset(f"mnist:{tmp_path}")
    assert d.x_train.shape == (20, 784) and d.x_test.shape == (10, 784)
    np.testing.assert_array_equal(d.y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_allclose(d.x_test[3], arrays["t10k-images-idx3-ubyte"][3].ravel() / 255)


def test_mnist_errors(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        mnist(tmp_path)
    _write_mnist(tmp_path, False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05ab")
    with pytest.raises(DatasetError, match="promises 5 bytes"):
        mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"GARBAGE!")
    with pytest.raises(DatasetError, match="bad magic"):
        mnist(tmp_path)


def test_a_folder_a_missing_mnist_folder_and_labels_with_a_gap_are_named(tmp_path):
    with pytest.raises(DatasetError, match="is a folder, not a data file"):
        load_dataset(str(tmp_path))
    with pytest.raises(DatasetError, match="mnist:.*nowhere: no such folder"):
        load_dataset(f"mnist:{tmp_path / 'nowhere'}")
    rng = np.random.default_rng(0)
    path = tmp_path / "gap.npz"
    np.savez(path, X=rng.uniform(size=(40, 3)), y=rng.choice([0, 1, 3], 40))
    with pytest.raises(DatasetError, match=r"no training sample has the label\(s\) 2: number "
                                           r"the classes 0 \.\. 2 without gaps"):
        load_dataset(str(path))
