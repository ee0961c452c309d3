"""Block splitting and per-thread scratch buffers for the convolutions.

The convolution kernels work a block of output rows at a time, so that
their buffers stay near the cache size instead of growing with the image,
and reuse one buffer per thread, so that they cost no page faults.
"""

import math
import threading

import numpy as np

_scratch = threading.local()


def scratch_array(shape: tuple[int, ...], dtype,
                  slot: str = "patches") -> np.ndarray:
    """Return an uninitialised array of `shape` on this thread's `slot`.

    Each slot is one buffer that grows to its largest request and is kept
    for the thread's life, so the array is only valid until the next call
    for the same slot on this thread. Arrays live at once only on
    different slots.
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    buffers = _scratch.__dict__.setdefault("buffers", {})
    buffer = buffers.get(slot)
    if buffer is None or buffer.nbytes < nbytes:
        buffer = buffers[slot] = np.empty(nbytes, np.uint8)
    return buffer[:nbytes].view(dtype).reshape(shape)


def blocks(N: int, rows: int,
           rows_per_block: int) -> list[tuple[int, int, int, int]]:
    """Split `N` images of `rows` output rows each into blocks
    `(n0, n1, h0, h1)` of about `rows_per_block` rows.

    A block is either some rows of one image or whole images, so its part
    of a `(N, H, W, F)` array is contiguous.
    """
    per_block = max(1, rows_per_block)
    if per_block < rows:
        return [(n, n + 1, h, min(h + per_block, rows))
                for n in range(N) for h in range(0, rows, per_block)]
    images = max(1, per_block // rows)
    return [(n, min(n + images, N), 0, rows) for n in range(0, N, images)]
