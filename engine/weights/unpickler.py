"""A restricted unpickler for PyTorch state dicts, backed by NumPy.

A PyTorch file is a pickle, and unpickling calls whatever the pickle names.
`StateDictUnpickler` resolves only the globals that a dict of tensors
needs, each to a stand-in defined here, and raises `UnsafeWeightsError` for
any other global before it is called. Tensors come out as `TensorRef` records,
which `materialize` turns into NumPy arrays once the storages are read.
"""

import collections
import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.weights.errors import (
    CorruptWeightsError,
    UnsafeWeightsError,
    WeightsError,
)


@dataclass(frozen=True, slots=True)
class StorageType:
    """A torch storage class, such as `torch.FloatStorage`, and its elements."""

    name: str
    dtype: np.dtype  # little-endian: the readers swap it for big-endian files


@dataclass(frozen=True, slots=True)
class StorageSlice:
    """Elements `start` to `start + numel` of the storage saved as `key`."""

    key: str
    storage_type: StorageType
    start: int
    numel: int


@dataclass(frozen=True, slots=True)
class TensorRef:
    """A tensor still to be read: a strided view of a storage slice."""

    storage: StorageSlice
    offset: int  # in elements, from the start of the slice
    size: tuple[int, ...]
    stride: tuple[int, ...]  # in elements


# NumPy has no bfloat16: its 16-bit words are read as uint16 and widened to
# float32 by `materialize`.
BFLOAT16 = "BFloat16Storage"
STORAGE_DTYPES = {
    "DoubleStorage": "<f8", "FloatStorage": "<f4", "HalfStorage": "<f2",
    BFLOAT16: "<u2", "LongStorage": "<i8", "IntStorage": "<i4",
    "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
    "BoolStorage": "?", "UntypedStorage": "u1",
}
STORAGE_TYPES = {name: StorageType(name, np.dtype(dtype))
                 for name, dtype in STORAGE_DTYPES.items()}
# Files saved from a GPU name `torch.cuda.FloatStorage`, with the same data.
STORAGE_MODULES = ("torch", "torch.cuda", "torch.storage")


def _check_index(value: Any, field: str) -> int:
    # bool is an int subclass, but never a valid index in a tensor header.
    if type(value) is not int or value < 0:
        raise CorruptWeightsError(
            f"tensor {field} must be a non-negative integer; found {value!r}")
    return value


def _check_indices(values: Any, field: str) -> tuple[int, ...]:
    if not isinstance(values, (tuple, list)):
        raise CorruptWeightsError(
            f"tensor {field} must be a tuple of integers; found {values!r:.80}")
    return tuple(_check_index(value, field) for value in values)


def rebuild_tensor(storage: Any, storage_offset: Any, size: Any,
                   stride: Any) -> TensorRef:
    """Stand in for `torch._utils._rebuild_tensor`, used before PyTorch 0.4."""
    if not isinstance(storage, StorageSlice):
        raise CorruptWeightsError(
            f"a tensor's storage must be a persistent storage id; found "
            f"{type(storage).__name__}")
    size = _check_indices(size, "size")
    stride = _check_indices(stride, "stride")
    if len(size) != len(stride):
        raise CorruptWeightsError(
            f"tensor size {size} and stride {stride} must have the same "
            f"length")
    return TensorRef(storage, _check_index(storage_offset, "storage offset"),
                     size, stride)


def rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any,
                      stride: Any, requires_grad: Any, backward_hooks: Any,
                      metadata: Any = None) -> TensorRef:
    """Stand in for `torch._utils._rebuild_tensor_v2`.

    The gradient flag, hooks and metadata do not matter for inference.
    """
    return rebuild_tensor(storage, storage_offset, size, stride)


def rebuild_parameter(data: Any, requires_grad: Any, backward_hooks: Any,
                      state: Any = None) -> Any:
    """Stand in for `torch._utils._rebuild_parameter` and its `_with_state`
    variant: a parameter is stored as its tensor."""
    return data


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): rebuild_parameter,
}
for _module in STORAGE_MODULES:
    for _name, _storage_type in STORAGE_TYPES.items():
        ALLOWED_GLOBALS[(_module, _name)] = _storage_type


def _as_text(value: Any) -> Any:
    # Files written by Python 2 store some of these strings as bytes.
    return value.decode("ascii") if isinstance(value, bytes) else value


class StateDictUnpickler(pickle.Unpickler):
    """Unpickle a PyTorch state dict without running code from the file.

    After `load()`, `storages` maps each storage key to its type and element
    count, from which the caller computes how many bytes to read.
    """

    def __init__(self, file: Any) -> None:
        super().__init__(file, encoding="utf-8")
        self.storages: dict[str, tuple[StorageType, int]] = {}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafeWeightsError(
                f"rejected global {module}.{name}: only tensors and dicts of "
                f"tensors are allowed") from None

    def persistent_load(self, pid: Any) -> StorageSlice:
        storage_type, key, numel, view = _parse_storage_id(pid)

        # Tensors that share a storage must agree on its type and size.
        known = self.storages.setdefault(key, (storage_type, numel))
        if known != (storage_type, numel):
            raise CorruptWeightsError(
                f"storage {key} is declared twice with different types or "
                f"sizes: {known[0].name} of {known[1]} and "
                f"{storage_type.name} of {numel}")

        if view is None:
            return StorageSlice(key, storage_type, 0, numel)
        return _view_slice(key, storage_type, numel, view)


def _parse_storage_id(pid: Any) -> tuple[StorageType, str, int, Any]:
    """Check a persistent id, and return its storage type, key, size and view.

    Legacy files: ("storage", type, key, location, numel, view), where view
    is None or (view key, offset, numel). Zip files leave out the view.
    """
    if not isinstance(pid, tuple) or not pid:
        raise CorruptWeightsError(
            f"persistent id must be a tuple; found {pid!r:.80}")
    if _as_text(pid[0]) != "storage":
        raise UnsafeWeightsError(
            f"rejected persistent id of kind {pid[0]!r:.40}: weight files "
            f"may refer only to 'storage'")
    if len(pid) not in (5, 6):
        raise CorruptWeightsError(
            f"storage id must have 5 or 6 items; found {pid!r:.80}")

    storage_type, key, _location, numel = pid[1:5]
    if not isinstance(storage_type, StorageType):
        raise CorruptWeightsError(
            f"storage type must be a torch storage class; found "
            f"{storage_type!r:.80}")
    key = _as_text(key)
    if not isinstance(key, str):
        raise CorruptWeightsError(
            f"storage key must be a string; found {key!r:.80}")
    view = pid[5] if len(pid) == 6 else None
    return storage_type, key, _check_index(numel, "storage size"), view


def _view_slice(key: str, storage_type: StorageType, numel: int,
                view: Any) -> StorageSlice:
    if not isinstance(view, tuple) or len(view) != 3:
        raise CorruptWeightsError(
            f"storage view must be (key, offset, size); found {view!r:.80}")
    start = _check_index(view[1], "storage view offset")
    view_numel = _check_index(view[2], "storage view size")
    if start + view_numel > numel:
        raise CorruptWeightsError(
            f"storage view of {view_numel} elements at offset {start} "
            f"runs past the end of storage {key}, which has {numel}")
    return StorageSlice(key, storage_type, start, view_numel)


def unpickle(file: Any) -> tuple[Any, dict[str, tuple[StorageType, int]]]:
    """Unpickle one object from `file`, and return it and its storages.

    Any failure becomes a WeightsError. The pickle comes from an untrusted
    file, so it can raise nearly any exception, and a corrupt length field
    can even ask for more memory than the machine has.
    """
    unpickler = StateDictUnpickler(file)
    try:
        return unpickler.load(), unpickler.storages
    except WeightsError:
        raise
    except EOFError:
        raise CorruptWeightsError(
            "file is truncated: a pickle ends early") from None
    except (pickle.UnpicklingError, MemoryError, TypeError, ValueError,
            AttributeError, IndexError, KeyError, OverflowError,
            RecursionError, UnicodeDecodeError) as error:
        raise CorruptWeightsError(
            f"corrupt or truncated pickle: {type(error).__name__}: {error}"
        ) from None


def materialize(tensor: TensorRef, storages: dict[str, np.ndarray],
                name: str) -> np.ndarray:
    """Build the array that `tensor` views in its storage, read-only.

    A contiguous tensor stays a view of the storage buffer. A strided one
    is copied, after checking that every element it reads lies inside the
    storage, so a hostile header cannot read memory beyond the buffer.
    """
    slice_ = tensor.storage
    data = storages[slice_.key][slice_.start:slice_.start + slice_.numel]
    if 0 in tensor.size:
        array = np.empty(tensor.size, data.dtype)
    else:
        last = tensor.offset + sum(
            (n - 1) * step
            for n, step in zip(tensor.size, tensor.stride, strict=True))
        if last >= data.size:
            raise CorruptWeightsError(
                f"tensor {name} reads element {last} of a storage with "
                f"{data.size} elements")
        strides = tuple(step * data.itemsize for step in tensor.stride)
        view = np.lib.stride_tricks.as_strided(
            data[tensor.offset:], tensor.size, strides, writeable=False)
        # Copy only strided views: np.ascontiguousarray would turn a 0-d
        # tensor into shape (1,).
        array = view if view.flags.c_contiguous else view.copy()
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if slice_.storage_type.name == BFLOAT16:
        # bfloat16 is the upper half of a float32.
        array = (array.astype(np.uint32) << 16).view(np.float32)
    array.flags.writeable = False
    return array
