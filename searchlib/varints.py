"""Variable-length integers, as every packed part of a searchlib index writes them.

Seven bits a byte, the lowest first, the high bit set on every byte but an
integer's last: 0–127 take one byte, 128–16,383 two. Term entries, term
tables, postings blocks, positions and word offsets all use them.
"""

from __future__ import annotations

import numpy as np


def write(out: bytearray, value: int) -> None:
    """Append ``value`` (≥ 0) to ``out``."""
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)


def encode(value: int) -> bytes:
    out = bytearray()
    write(out, value)
    return bytes(out)


def read(data: bytes, at: int) -> tuple[int, int]:
    """The integer at ``at``, and where the next one starts."""
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def read_all(data: bytes) -> list[int]:
    """Every integer of ``data``, in Python (short inputs)."""
    values = []
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
        else:
            values.append(value)
            value = shift = 0
    return values


def read_array(data: bytes) -> np.ndarray:
    """Every integer of ``data``, decoded at once with NumPy (a postings block's sections)."""
    a = np.frombuffer(data, dtype=np.uint8)
    if not len(a):
        return np.empty(0, dtype=np.int64)
    if a.max() < 0x80:
        return a.astype(np.int64)
    ends = np.flatnonzero(a < 0x80)
    starts = np.empty(len(ends), dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    within = np.arange(len(a)) - np.repeat(starts, ends - starts + 1)
    return np.add.reduceat((a & 0x7F).astype(np.int64) << (7 * within), starts)
