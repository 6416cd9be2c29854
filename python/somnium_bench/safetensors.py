"""A minimal safetensors reader and writer in numpy (no torch, no `safetensors` package).

The format (https://github.com/huggingface/safetensors): 8 bytes, the little-endian
u64 length N of a JSON header; N bytes of JSON ``{name: {"dtype", "shape",
"data_offsets": [begin, end]}, "__metadata__": {str: str}}`` (the metadata is
optional), padded with spaces; then the tensors' raw little-endian, C-order
bytes, offsets counted from the end of the header.

Only the dtypes below are supported; anything else raises :class:`SafetensorsError`
naming the tensor and its dtype.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Dict, Mapping, Optional, Tuple, Union

import numpy as np

#: safetensors dtype name -> little-endian numpy dtype.
DTYPES: Dict[str, np.dtype] = {
    "BOOL": np.dtype("bool"),
    "U8": np.dtype("u1"),
    "I8": np.dtype("i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}
_NAMES = {(dt.kind, dt.itemsize): name for name, dt in DTYPES.items()}

#: Refuse headers larger than this (a corrupt length field would otherwise allocate gigabytes).
MAX_HEADER = 100 * 1024 * 1024

PathLike = Union[str, "os.PathLike[str]"]


class SafetensorsError(ValueError):
    """A file is not valid safetensors, or holds a tensor this module cannot decode."""


def dtype_name(array: np.ndarray) -> str:
    """The safetensors dtype name of a numpy array's dtype (``U8``, ``I64``, ``F32``...)."""
    dt = array.dtype
    name = _NAMES.get((dt.kind, dt.itemsize))
    if name is None:
        raise SafetensorsError(f"numpy dtype {dt} has no safetensors equivalent here")
    return name


def read_header(path: PathLike) -> Tuple[dict, int]:
    """Parse a file's header -> (the header dict, ``"__metadata__"`` included when
    present; the byte offset where the data section starts)."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise SafetensorsError(f"{path}: {len(head)} bytes, too short for a safetensors header length")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER or 8 + n > size:
            raise SafetensorsError(f"{path}: header length {n} does not fit a file of {size} bytes")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is a JSON {type(header).__name__}, expected an object")
    return header, 8 + n


def _check_entry(path: str, name: str, entry, data_len: int) -> Tuple[np.dtype, tuple, int, int]:
    """Validate one header entry -> (numpy dtype, shape, begin, end)."""
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
        raise SafetensorsError(f"{path}: tensor '{name}' lacks dtype, shape or data_offsets: {entry!r}")
    if entry["dtype"] not in DTYPES:
        raise SafetensorsError(f"{path}: tensor '{name}' has unsupported dtype {entry['dtype']!r}")
    dt = DTYPES[entry["dtype"]]
    shape = tuple(entry["shape"])
    if not all(isinstance(d, int) and d >= 0 for d in shape):
        raise SafetensorsError(f"{path}: tensor '{name}' has a bad shape {entry['shape']!r}")
    begin, end = entry["data_offsets"]
    want = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    if not (0 <= begin <= end <= data_len) or end - begin != want:
        raise SafetensorsError(
            f"{path}: tensor '{name}' {entry['dtype']} {list(shape)} needs {want} bytes, "
            f"its data_offsets [{begin}, {end}] do not fit (data section {data_len} bytes)")
    return dt, shape, begin, end


def load(path: PathLike, names: Optional[list] = None) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Read tensors (all, or only ``names``) from a safetensors file.

    Returns (tensors by name as native-endian numpy arrays, the ``__metadata__`` dict).
    Raises FileNotFoundError for a missing file, :class:`SafetensorsError` for a bad one
    or a requested name that is absent."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such safetensors file")
    header, start = read_header(path)
    metadata = header.pop("__metadata__", None) or {}
    data_len = os.path.getsize(path) - start
    wanted = list(header) if names is None else list(names)
    missing = [n for n in wanted if n not in header]
    if missing:
        raise SafetensorsError(f"{path}: no tensor named {missing[0]!r} (it holds {sorted(header)})")
    out = {}
    with open(path, "rb") as f:
        for name in wanted:
            dt, shape, begin, end = _check_entry(path, name, header[name], data_len)
            f.seek(start + begin)
            buf = f.read(end - begin)
            arr = np.frombuffer(buf, dtype=dt).reshape(shape)
            out[name] = arr.astype(dt.newbyteorder("="), copy=True)
    return out, dict(metadata)


def save(path: PathLike, tensors: Mapping[str, np.ndarray], metadata: Optional[Mapping[str, str]] = None) -> None:
    """Write tensors to a safetensors file, atomically (a temporary name, then rename).

    Tensors are written in name order, C-contiguous and little-endian; the header is
    padded with spaces to a multiple of 8 bytes as the reference implementation does."""
    path = os.fspath(path)
    header: dict = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise SafetensorsError("metadata keys and values must be strings")
        header["__metadata__"] = dict(metadata)
    blobs, offset = [], 0
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        dname = dtype_name(arr)
        data = np.ascontiguousarray(arr, dtype=DTYPES[dname]).tobytes()
        header[name] = {"dtype": dname, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)
