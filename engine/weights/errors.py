"""The errors that weight readers and the downloader raise."""


class WeightsError(ValueError):
    """A weight file that cannot be used: corrupt, unsafe or of another shape."""


class DownloadError(OSError):
    """A download that failed or stopped before the whole file arrived."""
