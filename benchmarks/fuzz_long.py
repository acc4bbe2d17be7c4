"""Long fuzz run of every reader of foreign bytes (the harness of tests/security/fuzzlib.py).

    python benchmarks/fuzz_long.py                      # 5,000 cases per reader (fewer for the slow ones)
    python benchmarks/fuzz_long.py --scale 0.1 --only torch7 npz
    python benchmarks/fuzz_long.py --json benchmarks/results/fuzz_long.json
    python benchmarks/fuzz_long.py --ci                 # exactly what the default test suite runs

Each reader runs in a forked child with a 1 GiB address-space cap and a 5 s per-case timer; the table printed
(Markdown, for docs/security.md) gives per reader the cases, the outcomes (ok / documented error / refused
over-cap allocation), the failures (undocumented exception, hang, MemoryError, crash) and the peak RSS the run
added. Exit status 1 if any reader had a failure. The default suite runs the same targets with a few hundred
cases each (tests/security/test_fuzz_readers.py); ``pytest -m fuzz_long`` runs this count as tests.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "security"))

import fuzz_targets as T  # noqa: E402
import fuzzlib as F  # noqa: E402
from test_fuzz_readers import CI_CASES, CI_DEFAULT, LONG_CASES, LONG_SLOW  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every reader's case count")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", nargs="*", default=None, help="substrings of reader names to run")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--ci", action="store_true", help="the default suite's counts and seed (2026) instead")
    args = parser.parse_args(argv)
    if args.ci:
        args.seed = 2026
    results = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, target in enumerate(T.TARGETS):
            if args.only and not any(s in target.name for s in args.only):
                continue
            full = CI_CASES.get(target.name, CI_DEFAULT) if args.ci else LONG_SLOW.get(target.name, LONG_CASES)
            count = max(1, int(full * args.scale))
            r = F.run_target(target, Path(tmp) / str(i), count, seed=args.seed)
            results.append(r)
            print(f"{target.name}: {r['cases']} cases, {r['outcomes']}, {r['n_failures']} failures, "
                  f"peak RSS +{r['peak_rss_mib']} MiB, {r['seconds']} s", flush=True)
            for f in r["failures"][:5]:
                print("   ", f, flush=True)
    total = time.perf_counter() - start
    print(f"\n| reader | cases | ok | documented error | refused allocation | failures | peak RSS added |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        o = r["outcomes"]
        print(f"| {r['name']} | {r['cases']} | {o.get('ok', 0)} | {o.get('error', 0)} | {o.get('alloc_refused', 0)} "
              f"| {r['n_failures']} | {r['peak_rss_mib']} MiB |")
    print(f"\n{sum(r['cases'] for r in results)} cases in {total:.0f} s (seed {args.seed})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"seed": args.seed, "seconds": round(total, 1), "results": results},
                                        indent=1))
    return 1 if any(r["n_failures"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
