"""Exceptions raised by textgan.

Each is a subclass of the built-in exception that fits, so ``except ValueError`` keeps working, and each
message names the file or argument at fault and how to fix it.

Examples:
    >>> try:
    ...     textgan.get_pretrained("dfgan-flowers")
    ... except KeyError as e:   # UnknownModelError is a KeyError
    ...     print(type(e).__name__)
    UnknownModelError
"""
from __future__ import annotations

__all__ = [
    "TextganError",
    "CheckpointError",
    "ChecksumError",
    "ArchitectureMismatchError",
    "StateDictMismatchError",
    "UnsafePickleError",
    "VocabularyError",
    "EmptyPromptError",
    "UnknownModelError",
    "PretrainedNotFoundError",
    "OptionalDependencyError",
    "MetricInputError",
    "DatasetError",
    "DatasetFileNotFoundError",
    "UnsafeArchiveError",
]


class TextganError(Exception):
    """Base class of every error textgan raises on purpose."""


class CheckpointError(TextganError, ValueError):
    """A file is not a readable checkpoint (truncated, corrupt, or of another format)."""


class ChecksumError(CheckpointError):
    """A stored checksum (e.g. a TensorFlow CRC-32C) does not match the bytes: the file is corrupt."""


class ArchitectureMismatchError(CheckpointError):
    """A readable checkpoint that belongs to another architecture than the one asked for."""


class StateDictMismatchError(ArchitectureMismatchError):
    """Strict loading failed: keys are missing, unexpected, or have the wrong shape."""

    def __init__(self, what: str, missing=(), unexpected=(), mismatched=(), hint: str = ""):
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.mismatched = list(mismatched)
        lines = [f"{what}: the weights do not match the model."]
        if self.missing:
            lines.append(f"  missing keys ({len(self.missing)}): {_short(self.missing)}")
        if self.unexpected:
            lines.append(f"  unexpected keys ({len(self.unexpected)}): {_short(self.unexpected)}")
        if self.mismatched:
            lines.append(f"  shape mismatches ({len(self.mismatched)}): {_short(self.mismatched)}")
        if hint:
            lines.append(f"  {hint}")
        super().__init__("\n".join(lines))


class UnsafePickleError(CheckpointError):
    """A pickle asked for a class or function outside the allowed set; nothing was executed."""


class VocabularyError(TextganError, ValueError):
    """A vocabulary that is unreadable or does not fit its text encoder."""


class EmptyPromptError(TextganError, ValueError):
    """A prompt that is empty or has no word the vocabulary knows."""


class UnknownModelError(TextganError, KeyError):
    """A model name or pretrained tag that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class PretrainedNotFoundError(TextganError, FileNotFoundError):
    """Pretrained files that cannot be found locally, in the cache or on the Hub."""


class OptionalDependencyError(TextganError, ImportError):
    """An optional package (torchvision, h5py, ...) is needed for this feature."""


class MetricInputError(TextganError, ValueError):
    """Images, statistics or options that a metric (FID, IS, R-precision) cannot use."""


class DatasetError(TextganError, ValueError):
    """A dataset folder or file that is unreadable, corrupt or of an unknown layout."""


class DatasetFileNotFoundError(DatasetError, FileNotFoundError):
    """A file a dataset layout needs (image, caption file, metadata pickle) is missing."""


class UnsafeArchiveError(TextganError, ValueError):
    """An archive member would land outside the destination (absolute, ``..``, escaping link) or is a device;
    nothing was extracted."""


def _short(items, limit: int = 12) -> str:
    items = [str(i) for i in items]
    head = ", ".join(items[:limit])
    return head + (f", ... (+{len(items) - limit} more)" if len(items) > limit else "")
