"""Two-class toy datasets in the plane, generated from a seed, and CSV data.

Every dataset is `X` of shape `(N, 2)` with both features roughly in
[-1, 1] and labels `y` of shape `(N,)` in {0, 1}.
"""

import csv
import io
from dataclasses import dataclass

import numpy as np

DATASETS = ("circles", "xor", "blobs", "spirals", "moons")
SPIRAL_TURNS = 0.75
SPIRAL_START = 0.2  # radius where the arms begin
XOR_MARGIN = 0.25
MAX_CSV_ROWS = 10_000
# Larger features overflow float32 once squared (x1^2) or multiplied
# through a network's layers.
MAX_CSV_FEATURE = 1e6
MAX_CSV_BYTES = 2_000_000


@dataclass(frozen=True)
class Split:
    """A dataset cut into training and test parts."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def make_dataset(name: str, n: int = 200, noise: float = 0.1,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generate `n` points of a named dataset with Gaussian `noise`."""
    if name not in DATASETS:
        raise ValueError(
            f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    if n < 4:
        raise ValueError(f"a dataset needs at least 4 points, got {n}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2  # balanced classes
    X = _GENERATORS[name](y, rng)
    X = X + rng.normal(0, noise, X.shape)
    order = rng.permutation(n)
    return X[order], y[order]


def _circles(y, rng):
    # Class 1 on a circle of radius 0.3, class 0 on a ring at 1.0.
    angle = rng.uniform(0, 2 * np.pi, len(y))
    radius = np.where(y == 1, 0.3, 1.0)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


def _xor(y, rng):
    # Class 1 where the two coordinates have the same sign. The margin keeps
    # noise of 0.1 from pushing points across the axes.
    X = rng.uniform(XOR_MARGIN, 1.0, (len(y), 2))
    signs = rng.choice([-1, 1], len(y))
    X[:, 0] *= signs
    X[:, 1] *= np.where(y == 1, signs, -signs)
    return X


def _blobs(y, rng):
    centres = np.array([[-0.5, -0.5], [0.5, 0.5]])
    return centres[y] + rng.normal(0, 0.2, (len(y), 2))


def _spirals(y, rng):
    # Two interleaved arms, each turning SPIRAL_TURNS times round the origin.
    # Positions along an arm are stratified, one in each of n equal pieces,
    # so that no stretch of the arm is left without points.
    rank = np.empty(len(y))
    for label in (0, 1):
        members = np.flatnonzero(y == label)
        rank[members] = np.arange(len(members))
    count = np.bincount(y, minlength=2)[y]
    t = (rank + rng.uniform(0, 1, len(y))) / count
    angle = 2 * np.pi * SPIRAL_TURNS * t + np.pi * y
    radius = SPIRAL_START + (1 - SPIRAL_START) * t
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


def _moons(y, rng):
    angle = rng.uniform(0, np.pi, len(y))
    upper = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    lower = np.stack([1 - np.cos(angle), 0.5 - np.sin(angle)], axis=1)
    X = np.where((y == 0)[:, None], upper, lower)
    return X - [0.5, 0.25]  # centre the pair on the origin


_GENERATORS = {"circles": _circles, "xor": _xor, "blobs": _blobs,
               "spirals": _spirals, "moons": _moons}


def split(X: np.ndarray, y: np.ndarray, test_fraction: float = 0.5) -> Split:
    """Cut already shuffled data into training and test parts."""
    if not 0 < test_fraction < 1:
        raise ValueError(
            f"test fraction must be between 0 and 1, got {test_fraction}")
    n_test = int(round(len(X) * test_fraction))
    n_test = min(max(n_test, 1), len(X) - 1)
    return Split(X[n_test:], y[n_test:], X[:n_test], y[:n_test])


FEATURES: dict[str, str] = {
    "x1": "x_1", "x2": "x_2", "x1^2": "x_1^2", "x2^2": "x_2^2",
    "x1*x2": r"x_1 x_2", "sin(x1)": r"\sin x_1", "sin(x2)": r"\sin x_2",
}


def make_features(X: np.ndarray, names: list[str]) -> np.ndarray:
    """Compute the chosen input features of `X` `(N, 2)`: `(N, len(names))`."""
    unknown = [name for name in names if name not in FEATURES]
    if unknown or not names:
        raise ValueError(
            f"features must be a non-empty choice from {list(FEATURES)}, "
            f"got {names}")
    x1, x2 = X[:, 0], X[:, 1]
    columns = {"x1": x1, "x2": x2, "x1^2": x1**2, "x2^2": x2**2,
               "x1*x2": x1 * x2, "sin(x1)": np.sin(x1), "sin(x2)": np.sin(x2)}
    return np.stack([columns[name] for name in names], axis=1)


class CSVDataError(ValueError):
    """A CSV file that cannot be used, with the line and the reason."""


def read_csv(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Read rows `x1,x2,label` with labels 0 or 1; a header line is allowed.

    Raises `CSVDataError` naming the line and what is wrong with it.
    """
    if len(data) > MAX_CSV_BYTES:
        raise CSVDataError(
            f"the file is {len(data):,} bytes; the limit is {MAX_CSV_BYTES:,}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CSVDataError(
            f"the file is not UTF-8 text (byte {error.start})") from None
    rows = [(number, row) for number, row
            in enumerate(csv.reader(io.StringIO(text)), start=1)
            if any(cell.strip() for cell in row)]
    if rows and not _is_numeric(rows[0][1][0]):
        rows = rows[1:]  # a header line
    if not rows:
        raise CSVDataError("the file has no data rows")
    if len(rows) > MAX_CSV_ROWS:
        raise CSVDataError(
            f"the file has {len(rows):,} rows; the limit is {MAX_CSV_ROWS:,}")
    X = np.empty((len(rows), 2))
    y = np.empty(len(rows), dtype=np.int64)
    for i, (number, row) in enumerate(rows):
        X[i], y[i] = _parse_row(number, row)
    if len(np.unique(y)) < 2:
        raise CSVDataError("the labels must include both 0 and 1")
    return X, y


def _is_numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _parse_row(number: int, row: list[str]) -> tuple[list[float], int]:
    if len(row) != 3:
        raise CSVDataError(
            f"line {number}: expected 3 columns (x1, x2, label), "
            f"found {len(row)}")
    values = []
    for column, cell in zip(("x1", "x2"), row[:2]):
        try:
            value = float(cell)
        except ValueError:
            raise CSVDataError(
                f"line {number}: {column} is not a number: {cell.strip()!r}"
            ) from None
        if not np.isfinite(value):
            raise CSVDataError(f"line {number}: {column} is {cell.strip()}")
        if abs(value) > MAX_CSV_FEATURE:
            raise CSVDataError(
                f"line {number}: {column} is {cell.strip()}; features must "
                f"be within ±{MAX_CSV_FEATURE:g}, so scale the data first "
                f"(the charts draw the plane around [-1, 1])")
        values.append(value)
    label = row[2].strip()
    if label not in ("0", "1", "0.0", "1.0"):
        raise CSVDataError(
            f"line {number}: the label must be 0 or 1, found {label!r}")
    return values, int(float(label))
