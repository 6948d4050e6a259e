"""Data sets: Yin-Yang, scikit-learn digits, user files (.npz / .csv) and local MNIST IDX files.

Every loader returns a :class:`Dataset` with float64 inputs in [0, 1] and integer labels in
[0, n_classes). Bad input raises :class:`DatasetError` with a message naming the file and the
problem.
"""

from __future__ import annotations

import gzip
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Dataset", "DatasetError", "yinyang", "digits", "load_file", "mnist", "load_dataset",
           "stratified_split", "BUILTIN"]

BUILTIN = ("yinyang", "digits")


class DatasetError(ValueError):
    """A data set could not be loaded or failed a check."""


@dataclass(frozen=True)
class Dataset:
    """A classification data set split into train and test (and optionally validation)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None

    @property
    def n_inputs(self) -> int:
        return self.x_train.shape[1]

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> "Dataset":
        """The first ``n_train`` training and ``n_test`` test samples (None keeps all)."""
        return Dataset(self.name, self.x_train[:n_train], self.y_train[:n_train],
                       self.x_test[:n_test], self.y_test[:n_test], self.n_classes,
                       self.x_val, self.y_val)


# -- Yin-Yang (Kriener, Goeltz and Petrovici 2021) ---------------------------------------------
_R_SMALL, _R_BIG = 0.1, 0.5


def _yinyang_class(x: float, y: float) -> int:
    d_right = math.sqrt((x - 1.5 * _R_BIG) ** 2 + (y - _R_BIG) ** 2)
    d_left = math.sqrt((x - 0.5 * _R_BIG) ** 2 + (y - _R_BIG) ** 2)
    if d_right < _R_SMALL or d_left < _R_SMALL:
        return 2  # dot
    is_yin = (d_right <= _R_SMALL
              or _R_SMALL < d_left <= 0.5 * _R_BIG
              or (y > _R_BIG and d_right > 0.5 * _R_BIG))
    return int(is_yin)  # 1 yin, 0 yang


def yinyang_samples(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``size`` Yin-Yang samples drawn exactly as the published generator does.

    NumPy ``RandomState(seed)``: per sample, a goal class from ``randint(3)``, then rejection
    sampling of ``rand(2) * 2 * r_big`` until the point is inside the big circle and of the goal
    class. Inputs are ``(x, y, 1 - x, 1 - y)``.
    """
    rng = np.random.RandomState(seed)
    xs = np.empty((size, 4))
    ys = np.empty(size, dtype=np.int64)
    for i in range(size):
        goal = rng.randint(3)
        while True:
            x, y = rng.rand(2) * 2.0 * _R_BIG
            if math.sqrt((x - _R_BIG) ** 2 + (y - _R_BIG) ** 2) > _R_BIG:
                continue
            if _yinyang_class(x, y) == goal:
                break
        xs[i] = (x, y, 1.0 - x, 1.0 - y)
        ys[i] = goal
    return xs, ys


def yinyang() -> Dataset:
    """The reference split: train 5000 (seed 42), validation 1000 (seed 41), test 1000 (seed 40)."""
    x_train, y_train = yinyang_samples(5000, 42)
    x_val, y_val = yinyang_samples(1000, 41)
    x_test, y_test = yinyang_samples(1000, 40)
    return Dataset("yinyang", x_train, y_train, x_test, y_test, 3, x_val, y_val)


# -- scikit-learn digits -------------------------------------------------------------------------
def stratified_split(x: np.ndarray, y: np.ndarray, test_fraction: float = 0.2,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A fixed train/test split (scikit-learn's ``train_test_split``), stratified when every
    class has enough samples for it. Fewer than 2 samples cannot be split (DatasetError)."""
    from sklearn.model_selection import train_test_split

    if len(y) < 2:
        raise DatasetError(f"{len(y)} sample(s) cannot be split into train and test; "
                           "give more data or X_test / y_test")
    counts = np.bincount(y)
    n_test = max(1, int(np.ceil(test_fraction * len(y))))
    present = int((counts > 0).sum())
    can_stratify = counts[counts > 0].min() >= 2 and present <= n_test <= len(y) - present
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=n_test, random_state=seed,
                                              stratify=y if can_stratify else None)
    return x_tr, y_tr, x_te, y_te


def digits() -> Dataset:
    """scikit-learn's 8x8 digits, inputs / 16, a fixed stratified 80/20 split (seed 0)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.data.astype(np.float64) / 16.0
    y = d.target.astype(np.int64)
    x_tr, y_tr, x_te, y_te = stratified_split(x, y)
    return Dataset("digits", x_tr, y_tr, x_te, y_te, 10)


# -- checks shared by the file loaders -----------------------------------------------------------
def _check_arrays(x: np.ndarray, y: np.ndarray, where: str, normalize: bool,
                  n_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 2:
        raise DatasetError(f"{where}: X must be 2-D (samples x features), got shape {x.shape}")
    if y.ndim != 1:
        raise DatasetError(f"{where}: y must be 1-D (one label per sample), got shape {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise DatasetError(f"{where}: X has {x.shape[0]} samples but y has {y.shape[0]} labels")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise DatasetError(f"{where}: no data (X has shape {x.shape})")
    if not np.issubdtype(x.dtype, np.number):
        raise DatasetError(f"{where}: X must be numeric, got dtype {x.dtype}")
    x = x.astype(np.float64)
    bad = ~np.isfinite(x)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DatasetError(f"{where}: X holds {int(bad.sum())} NaN or infinite values "
                           f"(first at sample {r}, feature {c})")
    if not np.issubdtype(y.dtype, np.number):
        raise DatasetError(f"{where}: labels must be integers, got dtype {y.dtype}")
    yf = y.astype(np.float64)
    if not np.all(np.isfinite(yf)) or np.any(yf != np.round(yf)):
        i = int(np.argwhere(~np.isfinite(yf) | (yf != np.round(yf)))[0][0])
        raise DatasetError(f"{where}: labels must be integers, sample {i} has label {y[i]!r}")
    y = yf.astype(np.int64)
    limit = n_classes if n_classes is not None else None
    if y.min() < 0 or (limit is not None and y.max() >= limit):
        i = int(np.argwhere((y < 0) | ((y >= limit) if limit is not None else False))[0][0])
        rng = f"[0, {limit})" if limit is not None else "non-negative"
        raise DatasetError(f"{where}: label {y[i]} of sample {i} is out of range (must be {rng})")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        if not normalize:
            raise DatasetError(f"{where}: inputs must lie in [0, 1] (found {lo:g} .. {hi:g}); "
                               "pass --normalize to scale each feature to [0, 1]")
    return x, y


def _normalize(x_train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Min-max scale each feature to [0, 1] using training statistics (clipped for the rest)."""
    lo = x_train.min(axis=0)
    span = x_train.max(axis=0) - lo
    span[span == 0] = 1.0
    return [np.clip((a - lo) / span, 0.0, 1.0) for a in (x_train, *others)]


def _from_arrays(name: str, x, y, x_test, y_test, where: str, normalize: bool,
                 n_classes: int | None) -> Dataset:
    x, y = _check_arrays(x, y, where, normalize, n_classes)
    if x_test is None:
        x_tr, y_tr, x_te, y_te = stratified_split(x, y)
    else:
        x_te, y_te = _check_arrays(x_test, y_test, where + " (test arrays)", normalize, n_classes)
        if x_te.shape[1] != x.shape[1]:
            raise DatasetError(f"{where}: X_test has {x_te.shape[1]} features but X has "
                               f"{x.shape[1]}")
        x_tr, y_tr = x, y
    if normalize:
        x_tr, x_te = _normalize(x_tr, x_te)
    k = n_classes if n_classes is not None else int(max(y_tr.max(), y_te.max())) + 1
    if k < 2:
        raise DatasetError(f"{where}: need at least 2 classes, found labels {sorted(set(y_tr))}")
    unused = sorted(set(range(int(max(y_tr.max(), y_te.max())) + 1)) - set(y_tr.tolist()))
    if unused:
        raise DatasetError(f"{where}: no training sample has the label(s) "
                           f"{', '.join(map(str, unused))}: number the classes 0 .. "
                           f"{len(set(y_tr.tolist())) - 1} without gaps")
    return Dataset(name, x_tr, y_tr, x_te, y_te, k)


def load_file(path: str | Path, normalize: bool = False, n_classes: int | None = None) -> Dataset:
    """A user data set from ``.npz`` (arrays ``X``, ``y``, optionally ``X_test``, ``y_test``)
    or ``.csv`` (numbers only, last column = label, an optional header line).

    Without test arrays the data is split 80/20, stratified, seed 0. ``n_classes`` (the
    network's output size) bounds the labels when given.
    """
    path = Path(path)
    if path.is_dir():
        raise DatasetError(f"{path}: is a folder, not a data file (.npz or .csv; MNIST IDX "
                           "files: mnist:DIR)")
    if not path.is_file():
        raise DatasetError(f"{path}: no such data file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception as exc:  # corrupt archives raise many different errors
            raise DatasetError(f"{path}: not a readable .npz archive ({exc})") from None
        for key in ("X", "y"):
            if key not in arrays:
                raise DatasetError(f"{path}: missing array '{key}' (found: "
                                   f"{', '.join(sorted(arrays)) or 'none'})")
        if ("X_test" in arrays) != ("y_test" in arrays):
            raise DatasetError(f"{path}: give both X_test and y_test, or neither")
        return _from_arrays(path.stem, arrays["X"], arrays["y"], arrays.get("X_test"),
                            arrays.get("y_test"), str(path), normalize, n_classes)
    if suffix == ".csv":
        rows = _read_csv(path)
        return _from_arrays(path.stem, rows[:, :-1], rows[:, -1], None, None, str(path),
                            normalize, n_classes)
    raise DatasetError(f"{path}: unknown data file type '{suffix}' (use .npz or .csv)")


def _read_csv(path: Path) -> np.ndarray:
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise DatasetError(f"{path}: empty CSV file")

    def parse(ln: str) -> list[float]:
        return [float(v) for v in ln.split(",")]

    try:
        parse(lines[0])
    except ValueError:
        lines = lines[1:]  # a header line
    rows, width = [], None
    for i, ln in enumerate(lines):
        try:
            row = parse(ln)
        except ValueError:
            raise DatasetError(f"{path}: line {i + 1} is not a row of numbers: {ln[:60]!r}") from None
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise DatasetError(f"{path}: row {i + 1} has {len(row)} columns, expected {width}")
        rows.append(row)
    if not rows or width is None or width < 2:
        raise DatasetError(f"{path}: need at least one feature column and a label column")
    return np.array(rows, dtype=np.float64)


# -- MNIST from local IDX files ------------------------------------------------------------------
_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte",
}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (raw or gzip-compressed) as an array of unsigned bytes."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    count = int(np.prod(shape))
    if len(raw) - header != count:
        raise DatasetError(f"{path}: IDX header promises {count} bytes of data, file has "
                           f"{len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def mnist(directory: str | Path) -> Dataset:
    """MNIST from the four standard IDX files (raw or ``.gz``) in ``directory``; pixels / 255."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"mnist:{directory}: no such folder (give the folder that holds "
                           "the four MNIST IDX files)")
    arrays = {}
    for key, stem in _MNIST_FILES.items():
        for candidate in (directory / stem, directory / (stem + ".gz")):
            if candidate.is_file():
                arrays[key] = read_idx(candidate)
                break
        else:
            raise DatasetError(f"{directory}: MNIST file {stem}[.gz] not found")
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise DatasetError(f"{directory}: MNIST {part} images {x.shape} and labels {y.shape} "
                               "do not match")
        if y.max() > 9:
            raise DatasetError(f"{directory}: MNIST {part} label {y.max()} is out of range [0, 10)")
    flat = {k: (v.reshape(v.shape[0], -1).astype(np.float64) / 255.0 if k.startswith("x")
                else v.astype(np.int64)) for k, v in arrays.items()}
    return Dataset("mnist", flat["x_train"], flat["y_train"], flat["x_test"], flat["y_test"], 10)


def load_dataset(spec: str, normalize: bool = False, n_classes: int | None = None) -> Dataset:
    """Resolve a ``--dataset`` argument: ``yinyang``, ``digits``, ``mnist:DIR`` or a file path."""
    if spec == "yinyang":
        return yinyang()
    if spec == "digits":
        return digits()
    if spec.startswith("mnist:"):
        return mnist(spec[len("mnist:"):])
    if spec == "mnist":
        raise DatasetError("mnist: give the folder of the IDX files as mnist:DIR")
    if Path(spec).suffix.lower() in (".npz", ".csv") or Path(spec).exists():
        return load_file(spec, normalize=normalize, n_classes=n_classes)
    raise DatasetError(f"unknown data set '{spec}' (use yinyang, digits, mnist:DIR, "
                       "or a .npz / .csv file)")
