"""A deterministic fuzz harness for textgan's readers of foreign bytes (tests and benchmarks/fuzz_long.py).

Each :class:`Target` names a reader, builds small valid seed files (``seeds(folder)``) and exercises the reader
on a path (``read(path)``). :func:`run_target` runs ``count`` seeded mutations of the seeds in a **forked child
process** that

* caps its address space (``RLIMIT_AS``) at what it had plus :data:`MEMORY_HEADROOM`, so a reader that tries to
  allocate what a corrupt length field claims fails with MemoryError, which is counted as a failure;
* arms a per-case timer (``SIGALRM``), so a hang is a failure and not a stalled CI job;
* counts every outcome: ``ok`` (the reader returned), ``error`` (a documented exception), ``alloc_refused`` (a
  documented exception caused by a refused over-cap allocation: informational), or a failure (``unexpected
  <type>``, ``hang``, ``memory`` = a MemoryError escaping, or the run's peak RSS growing past
  :data:`PEAK_RSS_LIMIT_MIB`); a crash of the interpreter itself is reported by the parent with the case that
  was running.

The mutations (:func:`mutate`) flip, overwrite, truncate, extend, delete, insert and duplicate bytes, write huge
integers (int32/int64, both byte orders, 10^12 and the type maxima) at random offsets, turn bytes into long
varint runs, and replace decimal numbers in text with 10^12.
"""
from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import signal
import struct
import sys
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

CASE_SECONDS = 5.0
MEMORY_HEADROOM = 1 << 30  # 1 GiB over the child's address space at fork time
PEAK_RSS_LIMIT_MIB = 512  # resident memory a whole run may add (the seeds are a few KiB)

_HUGE = [10 ** 12, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 40, 2 ** 62, 2 ** 63 - 1, -1, -(2 ** 31)]
_FORMATS = ["<i", "<I", "<q", "<Q", ">i", ">q", "<h"]


@dataclass
class Seed:
    """Files making one valid input: ``files`` {relative name: bytes}; ``targets``: the names to mutate;
    ``entry``: the path handed to the reader (a file name, or "" for the folder)."""

    files: Dict[str, bytes]
    targets: List[str]
    entry: str


@dataclass
class Target:
    name: str
    seeds: Callable[[Path], List[Seed]]
    read: Callable[[Path], Any]
    allowed: Tuple[type, ...]
    text: bool = False  # mutate decimal numbers too
    notes: str = ""


@dataclass
class Result:
    name: str
    cases: int = 0
    outcomes: Counter = field(default_factory=Counter)
    failures: List[Tuple[int, str, str]] = field(default_factory=list)  # (case, mutation, what)
    peak_rss_mib: float = 0.0
    seconds: float = 0.0
    biggest: Tuple[int, str, int] = (-1, "", 0)  # the case that raised the peak RSS most (case, mutation, KiB)

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "cases": self.cases, "outcomes": dict(self.outcomes),
                "failures": self.failures[:20], "n_failures": len(self.failures),
                "peak_rss_mib": round(self.peak_rss_mib, 1), "seconds": round(self.seconds, 2),
                "biggest_case": [self.biggest[0], self.biggest[1], round(self.biggest[2] / 1024, 1)]}


def mutate(raw: bytes, rnd: random.Random, text: bool = False) -> Tuple[str, bytes]:
    """One seeded mutation of ``raw``: (kind, mutated bytes)."""
    kinds = ["flip", "flip", "flips", "truncate", "extend", "delete", "insert", "huge_int", "huge_int",
             "varint", "splice", "zero_run"]
    if text:
        kinds += ["huge_number", "huge_number"]
    kind = rnd.choice(kinds)
    b = bytearray(raw)
    n = len(b)
    if kind == "flip" and n:
        b[rnd.randrange(n)] ^= rnd.randrange(1, 256)
    elif kind == "flips" and n:
        for _ in range(rnd.randrange(2, 9)):
            b[rnd.randrange(n)] = rnd.randrange(256)
    elif kind == "truncate":
        del b[rnd.randrange(n + 1):]
    elif kind == "extend":
        b += bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 64)))
    elif kind == "delete" and n:
        start = rnd.randrange(n)
        del b[start:start + rnd.randrange(1, 32)]
    elif kind == "insert":
        pos = rnd.randrange(n + 1)
        b[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 16)))
    elif kind == "huge_int" and n:
        fmt = rnd.choice(_FORMATS)
        value = rnd.choice(_HUGE)
        try:
            packed = struct.pack(fmt, value)
        except struct.error:
            packed = struct.pack(fmt.lower() if fmt[-1].isupper() else fmt, -1)
        pos = rnd.randrange(max(1, n - len(packed) + 1))
        b[pos:pos + len(packed)] = packed
    elif kind == "varint" and n:
        pos = rnd.randrange(n)
        b[pos:pos + 6] = bytes([0xFF] * 5 + [0x7F])[:max(0, min(6, n - pos))]
    elif kind == "splice" and n:
        start = rnd.randrange(n)
        chunk = b[start:start + rnd.randrange(1, 64)]
        pos = rnd.randrange(n + 1)
        b[pos:pos] = chunk * rnd.randrange(1, 4)
    elif kind == "zero_run" and n:
        start = rnd.randrange(n)
        length = rnd.randrange(1, 16)
        b[start:start + length] = bytes(len(b[start:start + length]))
    elif kind == "huge_number":
        numbers = [m.span() for m in re.finditer(rb"\d+", bytes(b))]
        if numbers:
            s, e = rnd.choice(numbers)
            b[s:e] = rnd.choice([b"1000000000000", b"99999999999999999999", b"-1", b"1e308", b"NaN"])
    return kind, bytes(b)


class _Hang(BaseException):  # BaseException: a reader's `except Exception` must not swallow it
    pass


def _alarm(signum, frame):
    raise _Hang()


def _vm_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _memory_in_chain(e: BaseException) -> bool:
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, MemoryError):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _classify(target: Target, e: BaseException) -> str:
    if isinstance(e, MemoryError):
        return "memory"  # an allocation of what the file claimed escaped as MemoryError
    if isinstance(e, target.allowed):
        # a MemoryError under a documented error: an allocation over the cap was *attempted* and refused
        # (CPython's unpickler reserves a claimed BINBYTES size before reading); counted, not a failure
        return "alloc_refused" if _memory_in_chain(e) else "error"
    return f"unexpected {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"


def _child(target: Target, seeds: List[Seed], work: Path, count: int, seed: int, progress: Path,
           out: Path) -> None:
    result = Result(target.name)
    base_rss = _rss_bytes()
    vm = _vm_bytes()
    if vm and hasattr(resource, "RLIMIT_AS"):
        resource.setrlimit(resource.RLIMIT_AS, (vm + MEMORY_HEADROOM, resource.getrlimit(resource.RLIMIT_AS)[1]))
    signal.signal(signal.SIGALRM, _alarm)
    warnings.simplefilter("ignore")  # readers may warn on odd values (overflow, PIL's truncated-file notes)
    rnd = random.Random(seed)
    start = time.perf_counter()
    last_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for i in range(count):
        s = seeds[i % len(seeds)]
        case = work / f"case{i % 2}"
        shutil.rmtree(case, ignore_errors=True)
        case.mkdir()
        for name, data in s.files.items():
            (case / name).parent.mkdir(parents=True, exist_ok=True)
            (case / name).write_bytes(data)
        victim = rnd.choice(s.targets)
        kind, mutated = mutate(s.files[victim], rnd, target.text)
        (case / victim).write_bytes(mutated)
        progress.write_text(json.dumps({"case": i, "file": victim, "kind": kind}))
        (work / "current.bin").write_bytes(mutated)  # left behind if the case crashes the interpreter
        outcome = "ok"
        signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
        try:
            target.read(case / s.entry if s.entry else case)
        except _Hang:
            outcome = "hang"
        except BaseException as e:  # noqa: B902 - classify everything, including SystemExit-like surprises
            outcome = _classify(target, e)
            if outcome.startswith("unexpected") and os.environ.get("TEXTGAN_FUZZ_TRACE"):
                traceback.print_exc()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        result.cases += 1
        peak_now = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if peak_now - last_peak > 32 * 1024:  # this case raised the peak by > 32 MiB: remember the biggest
            if peak_now - last_peak > result.biggest[2]:
                result.biggest = (i, f"{victim}:{kind}", peak_now - last_peak)
        last_peak = peak_now
        if outcome in ("ok", "error", "alloc_refused"):
            result.outcomes[outcome] += 1
        else:
            result.outcomes["failure"] += 1
            result.failures.append((i, f"{victim}:{kind}", outcome))
            keep = work / "failures" / f"{i:06d}-{Path(victim).name}"
            keep.parent.mkdir(exist_ok=True)
            keep.write_bytes(mutated)
    result.seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    result.peak_rss_mib = max(0, peak - base_rss) / 2 ** 20
    if result.peak_rss_mib > PEAK_RSS_LIMIT_MIB:
        result.failures.append((-1, "all", f"peak RSS grew by {result.peak_rss_mib:.0f} MiB"))
    out.write_text(json.dumps(result.to_dict()))


def replay(target: Target, work: Path, seed: int, case: int) -> Tuple[Seed, str, bytes]:
    """The seed, mutated file name and bytes of case ``case`` of a run with ``seed`` (to reproduce a failure)."""
    seeds = target.seeds(Path(work) / "seeds")
    rnd = random.Random(seed)
    for i in range(case + 1):
        s = seeds[i % len(seeds)]
        victim = rnd.choice(s.targets)
        _, mutated = mutate(s.files[victim], rnd, target.text)
    return s, victim, mutated


def run_target(target: Target, work: Path, count: int, seed: int = 0, timeout: Optional[float] = None) -> Dict:
    """Fuzz ``target`` with ``count`` cases in a forked child; returns :meth:`Result.to_dict` (plus a crash)."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    seeds = target.seeds(work / "seeds")
    progress, out = work / "progress.json", work / "result.json"
    out.unlink(missing_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never return into the test runner
        code = 0
        try:
            _child(target, seeds, work, count, seed, progress, out)
        except BaseException:
            traceback.print_exc()
            code = 3
        finally:
            os._exit(code)
    deadline = time.monotonic() + (timeout or count * CASE_SECONDS + 60)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = -1
            break
        time.sleep(0.02)
    if out.is_file():
        return json.loads(out.read_text())
    last = progress.read_text() if progress.is_file() else "{}"
    return {"name": target.name, "cases": 0, "outcomes": {}, "n_failures": 1, "peak_rss_mib": None,
            "failures": [(-1, last, f"child process died (wait status {status}) during {last}")], "seconds": None}


def run_once(fn: Callable[[], Any], headroom: int = 256 << 20, seconds: float = 20.0) -> Dict[str, Any]:
    """Run ``fn`` in a forked child with ``headroom`` bytes of address space over its current size.

    Returns ``{"exception": type name or None, "message", "memory": MemoryError in the chain, "peak_rss_mib"}``.
    """
    import tempfile

    fd, name = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    out = Path(name)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            base = _rss_bytes()
            if hasattr(resource, "RLIMIT_AS") and _vm_bytes():
                resource.setrlimit(resource.RLIMIT_AS, (_vm_bytes() + headroom,
                                                        resource.getrlimit(resource.RLIMIT_AS)[1]))
            signal.signal(signal.SIGALRM, _alarm)
            signal.setitimer(signal.ITIMER_REAL, seconds)
            info: Dict[str, Any] = {"exception": None, "message": "", "memory": False, "classes": []}
            try:
                fn()
            except BaseException as e:  # noqa: B902
                info.update(exception=type(e).__name__, message=str(e)[:500], memory=_memory_in_chain(e),
                            classes=[c.__module__ + "." + c.__qualname__ for c in type(e).__mro__])
            signal.setitimer(signal.ITIMER_REAL, 0)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            info["peak_rss_mib"] = max(0, peak - base) / 2 ** 20
            out.write_text(json.dumps(info))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    try:
        return json.loads(out.read_text()) if out.stat().st_size else {"exception": "child died", "memory": None}
    finally:
        out.unlink(missing_ok=True)
