"""Read PyTorch state dicts, legacy or zip serialized, with NumPy alone.

Legacy files (`torch.save` before PyTorch 1.6, or with
`_use_new_zipfile_serialization=False`) are five pickles in a row: a magic
number, the protocol version, system information, the object itself, and
the list of storage keys. The raw bytes of each storage follow, in the
order of that list, each preceded by its element count as a little-endian
int64. Zip files hold the object pickle as `<folder>/data.pkl` and each
storage as `<folder>/data/<key>`, where the folder name varies.
"""

import io
import os
import struct
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from engine.weights.errors import CorruptWeightsError, WeightsFormatError
from engine.weights.unpickler import StorageType, TensorRef, materialize, unpickle

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
ELEMENT_COUNT = struct.Struct("<q")
PICKLE_FILE = "data.pkl"
BYTE_ORDER_FILE = "byteorder"
# A zip file's byte order record, as the prefix of a NumPy dtype string.
BYTE_ORDERS = {b"little": "<", b"big": ">"}
ZIP_MAGIC = b"PK\x03\x04"
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)

Storages = Mapping[str, tuple[StorageType, int]]


def read_torch_file(path: str | Path) -> dict[str, np.ndarray]:
    """Read a PyTorch state dict into read-only NumPy arrays, by key.

    Each array keeps the tensor's dtype, except that bfloat16 becomes
    float32. Raises WeightsError for a corrupt, truncated or unsafe file.
    """
    path = Path(path)
    with open(path, "rb") as file:
        zipped = file.read(len(ZIP_MAGIC)) == ZIP_MAGIC
    return _read_zip(path) if zipped else _read_legacy(path)


def _read_legacy(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as file:
        file_size = os.fstat(file.fileno()).st_size
        byte_order = _read_legacy_header(file)
        state, storages = unpickle(file)
        keys, _ = unpickle(file)
        if not isinstance(keys, list) or not all(
                isinstance(key, str) for key in keys):
            raise CorruptWeightsError(
                f"storage key list must be a list of strings; found "
                f"{type(keys).__name__}")
        arrays = {}
        for key in keys:
            if key not in storages:
                raise CorruptWeightsError(
                    f"storage {key} has data but no tensor refers to it")
            storage_type, numel = storages[key]
            arrays[key] = _read_legacy_storage(
                file, file_size, key, storage_type, numel, byte_order)
    return _state_dict(state, storages, arrays)


def _read_legacy_header(file: BinaryIO) -> str:
    """Check the magic number and protocol, and return the byte order."""
    magic, _ = unpickle(file)
    if magic != MAGIC_NUMBER:
        raise WeightsFormatError(
            f"invalid magic number {magic!r:.40}; expected "
            f"{MAGIC_NUMBER:#x}, so this is not a PyTorch file")
    protocol, _ = unpickle(file)
    if protocol != PROTOCOL_VERSION:
        raise WeightsFormatError(
            f"unsupported PyTorch protocol version {protocol!r:.40}; "
            f"expected {PROTOCOL_VERSION}")
    sys_info, _ = unpickle(file)
    if not isinstance(sys_info, dict):
        raise CorruptWeightsError(
            f"system information must be a dict; found "
            f"{type(sys_info).__name__}")
    return "<" if sys_info.get("little_endian", True) else ">"


def _read_legacy_storage(file: BinaryIO, file_size: int, key: str,
                         storage_type: StorageType, numel: int,
                         byte_order: str) -> np.ndarray:
    header = file.read(ELEMENT_COUNT.size)
    if len(header) < ELEMENT_COUNT.size:
        raise CorruptWeightsError(f"file is truncated before storage {key}")
    (count,) = ELEMENT_COUNT.unpack(header)
    if count != numel:
        raise CorruptWeightsError(
            f"storage {key} has {count} elements in the data but {numel} "
            f"in the pickle")
    dtype = storage_type.dtype.newbyteorder(byte_order)
    nbytes = count * dtype.itemsize
    remaining = file_size - file.tell()
    # Checked before reading, so a corrupt count cannot make read() try to
    # allocate more memory than the file could ever fill.
    if nbytes > remaining:
        raise CorruptWeightsError(
            f"file is truncated: storage {key} needs {nbytes} bytes, only "
            f"{remaining} remain")
    return np.frombuffer(file.read(nbytes), dtype)


def _read_zip(path: Path) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(path) as archive:
            folder = _archive_folder(archive)
            pickle_bytes = archive.read(f"{folder}/{PICKLE_FILE}")
            byte_order = _zip_byte_order(archive, folder)
            state, storages = unpickle(io.BytesIO(pickle_bytes))
            arrays = {key: _read_zip_storage(archive, folder, key,
                                             storage_type, numel, byte_order)
                      for key, (storage_type, numel) in storages.items()}
    except ZIP_ERRORS as error:
        raise CorruptWeightsError(f"corrupt zip archive: {error}") from None
    return _state_dict(state, storages, arrays)


def _archive_folder(archive: zipfile.ZipFile) -> str:
    folders = [name.split("/")[0] for name in archive.namelist()
               if name.count("/") == 1 and name.endswith(f"/{PICKLE_FILE}")]
    if len(folders) != 1:
        raise WeightsFormatError(
            f"a PyTorch zip file must hold exactly one <folder>/{PICKLE_FILE}"
            f"; found {len(folders)} among entries "
            f"{archive.namelist()[:5]}")
    return folders[0]


def _zip_byte_order(archive: zipfile.ZipFile, folder: str) -> str:
    name = f"{folder}/{BYTE_ORDER_FILE}"
    if name not in archive.namelist():
        return "<"  # files from before PyTorch 1.10 have no record: little
    record = archive.read(name)
    if record not in BYTE_ORDERS:
        raise CorruptWeightsError(
            f"byte order record must be one of {sorted(BYTE_ORDERS)}; found "
            f"{record[:20]!r}")
    return BYTE_ORDERS[record]


def _read_zip_storage(archive: zipfile.ZipFile, folder: str, key: str,
                      storage_type: StorageType, numel: int,
                      byte_order: str) -> np.ndarray:
    name = f"{folder}/data/{key}"
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise CorruptWeightsError(f"zip entry {name} is missing") from None
    dtype = storage_type.dtype.newbyteorder(byte_order)
    # Checked before reading, so a compressed entry cannot inflate to more
    # than its storage needs.
    if info.file_size != numel * dtype.itemsize:
        raise CorruptWeightsError(
            f"zip entry {name} has {info.file_size} bytes; expected "
            f"{numel * dtype.itemsize} for {numel} {storage_type.name} "
            f"elements")
    return np.frombuffer(archive.read(name), dtype)


def _state_dict(state: Any, storages: Storages,
                arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not isinstance(state, dict):
        raise WeightsFormatError(
            f"expected a state dict (parameter names to tensors); found "
            f"{type(state).__name__}")
    missing = set(storages) - set(arrays)
    if missing:
        raise CorruptWeightsError(
            f"file is truncated: no data for storages {sorted(missing)[:5]}")
    tensors = {}
    for name, value in state.items():
        if not isinstance(name, str):
            raise WeightsFormatError(
                f"state dict keys must be strings; found {name!r:.40}")
        if not isinstance(value, TensorRef):
            raise WeightsFormatError(
                f"state dict entry {name} is a {type(value).__name__}; "
                f"expected a tensor")
        tensors[name] = materialize(value, arrays, name)
    return tensors
