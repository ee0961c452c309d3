"""The errors that weight readers and the downloader raise.

A `WeightsError` message is the technical detail, for developers and logs.
Each subclass below is one kind of unusable file. Its `advice` states in
plain words what is wrong and what to do, for the page and the command line.
"""

from pathlib import Path

# The weights files that the readers accept, named in several errors' advice.
READABLE_FILES = (
    "a PyTorch .pth file saved with torch.save(model.state_dict()), a Keras "
    ".h5 file, or an .npz file written by `python -m engine weights convert`")


class WeightsError(ValueError):
    """A weight file that cannot be used: corrupt, unsafe or of another shape.

    `detail` is the message without the file's path, and `path` is the
    file, once a caller has named it. `advice` is None where the detail
    reads plainly already.
    """

    advice: str | None = None

    def __init__(self, detail: str, path: str | Path | None = None) -> None:
        super().__init__(detail if path is None else f"{path}: {detail}")
        self.detail = detail
        self.path = path

    def in_file(self, path: str | Path) -> "WeightsError":
        """Return the same kind of error, naming the file it comes from."""
        return type(self)(self.detail, path)

    def plain_message(self) -> str:
        """Return the advice, or the detail as a sentence when there is none."""
        if self.advice is not None:
            return self.advice
        return self.detail if self.detail.endswith(".") else self.detail + "."

    def terminal_message(self) -> str:
        """Return the path, the plain message and the detail, for a terminal."""
        text = self.plain_message()
        if self.advice is not None:
            text += f" Detail: {self.detail}"
        return text if self.path is None else f"{self.path}: {text}"


class WeightsFormatError(WeightsError):
    """A file in none of the formats that the readers accept."""

    advice = (f"This file is not a weights file that can be read. Use "
              f"{READABLE_FILES}.")


class UnsafeWeightsError(WeightsError):
    """A PyTorch file whose pickle names code to import or call.

    A whole model saved with torch.save(model) is one: loading it would
    import the model's class.
    """

    advice = ("This .pth file contains code to run, and code in a weights "
              "file is never run. Use a file saved with "
              "torch.save(model.state_dict()), which contains only the "
              "weights.")


class CorruptWeightsError(WeightsError):
    """A file of a known format whose contents are damaged or cut short."""

    advice = ("The file is damaged or incomplete, for example because a "
              "download or copy stopped early. Download or save it again.")


class WeightsMismatchError(WeightsError):
    """Weights whose names or shapes do not fit the VGG configuration."""

    advice = ("The weights in this file do not fit the VGG network they are "
              "loaded into. Use the weights of VGG11, VGG13, VGG16 or VGG19 "
              "for the 1,000 ImageNet classes, as torchvision or Keras save "
              "them.")


class WeightValuesError(WeightsError):
    """Weights that are not finite floating-point numbers."""

    advice = ("The file contains weights that are not finite floating-point "
              "numbers, such as NaN, infinity or integers, so the network "
              "cannot run on them. Save the weights of a model whose "
              "parameters are finite, or use the pretrained weights.")


class H5pyMissingError(WeightsError):
    """A Keras file to read on a machine without h5py."""

    advice = ("Reading Keras .h5 files needs the h5py package, which is not "
              "installed here. Install it with `pip install h5py`, or "
              "convert the file to .npz with `python -m engine weights "
              "convert` on a machine that has h5py.")


class DownloadError(OSError):
    """A download that failed or stopped before the whole file arrived."""
