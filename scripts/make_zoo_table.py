"""Write the model-zoo table, generated from the registry, into README.md and docs/zoo.md, and the metrics
sections (``<!-- zoo-metrics:start FAMILY,... -->``) of docs/families/*.md.

    python scripts/make_zoo_table.py           # rewrite both files between the zoo-table markers
    python scripts/make_zoo_table.py --check   # exit 1 when either file disagrees with the registry
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textgan._zoo_table import (METRICS_SECTION, replace_between_markers, update_metrics_sections,  # noqa: E402
                                zoo_table)

FILES = (ROOT / "README.md", ROOT / "docs" / "zoo.md")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on a difference")
    args = parser.parse_args(argv)
    table, stale = zoo_table(), []
    pages = sorted(p for p in (ROOT / "docs" / "families").glob("*.md") if METRICS_SECTION.search(p.read_text()))
    for path in [*FILES, *pages]:
        text = path.read_text()
        new = replace_between_markers(text, table, what=str(path)) if path in FILES else text
        new = update_metrics_sections(new)
        if new != text:
            stale.append(path)
            if not args.check:
                path.write_text(new)
    for path in stale:
        print(f"{path.relative_to(ROOT)}: {'out of date' if args.check else 'updated'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
