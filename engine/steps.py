"""The record of one operation in a forward or backward pass.

Passes append `Step`s to a list when the caller hands one in, so that the
pages can draw every operation without redoing any of the maths.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Step:
    """One operation: which layer, what it computed, and from what.

    `formula` is LaTeX in the symbols of the operation, for example
    `Z^{[2]} = W^{[2]} A^{[1]} + b^{[2]}`; `chain` is the chain-rule product
    a gradient comes from, empty for forward operations. `inputs` and
    `outputs` map the plain symbol names (`"W"`, `"A_prev"`, `"dZ"`) to arrays.
    """

    layer: str
    op: str
    formula: str
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    index: int | None = None
    chain: str = ""


def record(steps: list[Step] | None, *args, **kwargs) -> None:
    """Append a `Step` built from the arguments when `steps` is a list."""
    if steps is not None:
        steps.append(Step(*args, **kwargs))


def sup(index: int | None, transpose: bool = False) -> str:
    """Return the LaTeX layer superscript `^{[l]}` or `^{[l]T}`.

    The transpose shares the superscript because `A^{[l]}^T` is a LaTeX
    error (a double superscript).
    """
    t = "T" if transpose else ""
    if index is None:
        return f"^{t}" if t else ""
    return f"^{{[{index}]{t}}}"
