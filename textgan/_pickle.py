"""A restricted unpickler for the metadata pickles of the original text-to-image GAN repositories.

``pickle.load`` runs whatever callable a pickle names, so a downloaded ``captions.pickle`` could execute
arbitrary code. :func:`safe_load` reads the same files but resolves only the handful of globals those
files actually reference; anything else raises :class:`~textgan.errors.UnsafePickleError` *before*
anything is called.

What the original files reference (checked with ``pickletools`` on the shared replicas, whose encodings
were validated byte-for-byte against released metadata):

* ``captions.pickle`` / ``captions_DAMSM.pickle``, ``filenames.pickle``, flowers/birds test
  ``class_info.pickle``: no global at all (lists, dicts, ints, unicode and py2 ``str`` are opcodes).
* ``char-CNN-RNN-embeddings.pickle``: ``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``,
  ``numpy.dtype`` (py2 numpy arrays).
* birds/flowers train ``class_info.pickle``: ``numpy.core.multiarray.scalar`` and ``numpy.dtype``
  (py2 ``numpy.int64`` scalars, whose raw bytes need ``encoding="latin1"`` or ``"bytes"``).

The allowed set is those, their numpy-2 spellings (``numpy._core.multiarray.*``), three harmless
container constructors (``collections.OrderedDict``, ``set``, ``frozenset``) and ``_codecs.encode``
restricted to ``(str, "latin1")``: Python 3 writes ``bytes`` (including numpy array and scalar data)
that way below protocol 3, and DF-GAN dumps its pickles with ``protocol=2`` from Python 3.
Not allowed, because no original metadata file needs them: Python 2's ``copy_reg._reconstructor``
and numpy's protocol-5 ``numpy._core.numeric._frombuffer``.
"""
from __future__ import annotations

import io
import os
import pickle
import struct
from typing import IO, Any, Dict, Tuple, Union

from .errors import CheckpointError, UnsafePickleError

__all__ = ["safe_load", "ALLOWED_GLOBALS"]

PathOrFile = Union[str, "os.PathLike[str]", IO[bytes]]

_NUMPY_GLOBALS = (
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
)
_BASIC_GLOBALS = (
    ("collections", "OrderedDict"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    # Python 2 spellings (protocol < 3 pickles; Python 3 also writes these names below protocol 3)
    ("__builtin__", "set"),
    ("__builtin__", "frozenset"),
    ("_codecs", "encode"),  # only as _codecs.encode(str, "latin1"), see _latin1_encode
)

#: Every ``(module, name)`` that :func:`safe_load` may resolve (numpy ones only with ``allow_numpy=True``).
ALLOWED_GLOBALS: Tuple[Tuple[str, str], ...] = _BASIC_GLOBALS + _NUMPY_GLOBALS


def _latin1_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """Stand-in for ``_codecs.encode``: Python 3's protocol < 3 spelling of ``bytes``, and nothing else."""
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1", "iso-8859-1") or errors != "strict":
        raise pickle.UnpicklingError(
            f"_codecs.encode is only accepted as encode(str, 'latin1'), got encode({type(obj).__name__}, {encoding!r})"
        )
    return obj.encode("latin-1")


def _resolve(module: str, name: str) -> Any:
    """Return the object for an allowed global without importing anything by name from the data."""
    if module == "_codecs":
        return _latin1_encode
    if module in ("builtins", "__builtin__"):
        return {"set": set, "frozenset": frozenset}[name]
    if module == "collections":
        import collections

        return collections.OrderedDict
    import numpy as np

    if name == "ndarray":
        return np.ndarray
    if name == "dtype":
        return np.dtype
    try:  # numpy >= 2: the real module is numpy._core (numpy.core only warns and forwards)
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray  # type: ignore[no-redef]
    return {"_reconstruct": multiarray._reconstruct, "scalar": multiarray.scalar}[name]


class _RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` only hands out :data:`ALLOWED_GLOBALS`."""

    def __init__(self, file: IO[bytes], *, what: str, encoding: str, allow_numpy: bool) -> None:
        super().__init__(file, encoding=encoding, errors="strict")
        self._what = what
        self._allowed: Dict[Tuple[str, str], bool] = {key: True for key in _BASIC_GLOBALS}
        if allow_numpy:
            self._allowed.update({key: True for key in _NUMPY_GLOBALS})

    def find_class(self, module: str, name: str) -> Any:  # noqa: D401 - pickle API
        if (module, name) in self._allowed:
            return _resolve(module, name)
        hint = " (numpy objects are refused because allow_numpy=False)" if (module, name) in _NUMPY_GLOBALS else ""
        raise UnsafePickleError(
            f"{self._what}: refused to load '{module}.{name}'{hint}; safe_load only allows plain data, "
            f"numpy arrays/scalars and OrderedDict, and nothing from the file was executed. "
            f"If you trust this file, read it with pickle.load yourself."
        )

    def persistent_load(self, pid: Any) -> Any:  # noqa: D401 - pickle API
        raise UnsafePickleError(
            f"{self._what}: refused a persistent id ({pid!r:.60}); metadata pickles have none and "
            f"nothing from the file was executed."
        )


class _RestrictedPyUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """The same restrictions on the pure-Python unpickler, used for files whose length fields claim more than
    the file holds (see :func:`claims_beyond`): its memo is a dict and it reads what is there, where CPython's
    C unpickler allocates a memo of the largest index and a buffer of the claimed size up front."""

    def __init__(self, file: IO[bytes], *, what: str, encoding: str, allow_numpy: bool) -> None:
        pickle._Unpickler.__init__(self, file, encoding=encoding, errors="strict")  # type: ignore[attr-defined]
        self._what = what
        self._allowed = {key: True for key in _BASIC_GLOBALS}
        if allow_numpy:
            self._allowed.update({key: True for key in _NUMPY_GLOBALS})

    find_class = _RestrictedUnpickler.find_class
    persistent_load = _RestrictedUnpickler.persistent_load


# opcodes whose argument makes the C unpickler allocate in proportion to it: LONG_BINPUT (memo index),
# BINBYTES, BINBYTES8, BYTEARRAY8 (buffer allocated before reading); (opcode byte, argument width)
_SIZED_OPCODES = ((0x72, 4), (0x42, 4), (0x8E, 8), (0x96, 8))


def claims_beyond(data: bytes) -> bool:
    """True if any byte that could be one of :data:`_SIZED_OPCODES` is followed by a size larger than ``data``.

    Every real such opcode is among the positions checked, so False means the C unpickler cannot be made to
    allocate more than about 8x the file; True (also by chance, on data bytes) selects the pure-Python one.
    """
    import numpy as np

    arr = np.frombuffer(data, dtype=np.uint8)
    n = arr.size
    for opcode, width in _SIZED_OPCODES:
        at = np.flatnonzero(arr[: max(0, n - width)] == opcode)
        if at.size == 0:
            continue
        value = np.zeros(at.size, dtype=np.uint64)
        for k in range(width):
            value |= arr[at + 1 + k].astype(np.uint64) << np.uint64(8 * k)
        if bool((value > n).any()):
            return True
    return False


_READ_ERRORS: Tuple[type, ...] = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    AttributeError,
    UnicodeDecodeError,
    struct.error,
    OverflowError,
    MemoryError,
    RecursionError,  # the pure-Python unpickler on deeply nested BUILD/REDUCE chains
    SystemError,  # numpy's dtype.__setstate__ on a malformed state ("bad argument to internal function")
)


def safe_load(path_or_fileobj: PathOrFile, *, encoding: str = "latin1", allow_numpy: bool = True) -> Any:
    """Unpickle a metadata file of the original repositories without executing code from it.

    Args:
        path_or_fileobj: a path, or a binary file object opened for reading.
        encoding: how Python 2 ``str`` objects are decoded, as in :func:`pickle.load`. The default
            ``"latin1"`` is required for py2 numpy arrays and scalars (e.g. birds ``class_info.pickle``,
            whose ``int64`` bytes are not valid ASCII) and decodes ASCII py2 strings unchanged;
            ``"bytes"`` keeps py2 ``str`` as ``bytes``.
        allow_numpy: allow numpy arrays, dtypes and scalars (needs numpy).

    Returns:
        The unpickled object, equal to ``pickle.load(f, encoding=encoding)`` for allowed files.

    Raises:
        UnsafePickleError: the pickle references a global outside :data:`ALLOWED_GLOBALS` (the message
            names the file and the ``module.name`` refused; nothing was executed).
        CheckpointError: the data is not a pickle, is truncated or is otherwise malformed.
        FileNotFoundError: ``path_or_fileobj`` is a path that does not exist.
    """
    if isinstance(path_or_fileobj, (str, os.PathLike)):
        what = os.fspath(path_or_fileobj)
        with open(what, "rb") as f:
            return _load(f, what, encoding, allow_numpy)
    if isinstance(path_or_fileobj, (bytes, bytearray)):
        raise TypeError("safe_load takes a path or a binary file object; wrap bytes in io.BytesIO(...)")
    what = str(getattr(path_or_fileobj, "name", "<file object>"))
    return _load(path_or_fileobj, what, encoding, allow_numpy)


def _load(f: IO[bytes], what: str, encoding: str, allow_numpy: bool) -> Any:
    if isinstance(f, io.TextIOBase):
        raise TypeError(f"{what}: safe_load needs a file opened in binary mode ('rb')")
    # Read it all (bounded by the file's size) so the size claims can be checked before unpickling.
    data = f.read()
    cls = _RestrictedPyUnpickler if claims_beyond(data) else _RestrictedUnpickler
    unpickler = cls(io.BytesIO(data), what=what, encoding=encoding, allow_numpy=allow_numpy)
    try:
        return unpickler.load()
    except UnsafePickleError:
        raise
    except _READ_ERRORS as exc:
        raise CheckpointError(
            f"{what}: not a pickle or truncated ({type(exc).__name__}: {exc})"
        ) from exc

