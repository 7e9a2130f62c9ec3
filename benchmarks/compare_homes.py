"""Compare two data homes built from the same inbox: every warehouse table and every site page.

Used to show that a refactor changed no result: build the demo with the old commit into one home
and with the new commit into another, then

    .venv/bin/python benchmarks/compare_homes.py OLD_HOME NEW_HOME [--rename review.x=mart.x ...]

Tables are compared as sorted rows (column order ignored); pages byte for byte after removing
what differs between any two runs (run ids, build stamps, generation times). Exit 1 on any
difference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from home_fixtures import home_differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rename", action="append", default=[], help="old.name=new.name (tables or pages)")
    args = parser.parse_args(argv)
    renames = dict(item.split("=", 1) for item in args.rename)
    problems, counted = home_differences(args.old, args.new, renames)
    for line in problems:
        print(line)
    print(
        f"tables: {counted['tables'][0]} old, {counted['tables'][1]} new; pages: {counted['pages'][0]} old, "
        f"{counted['pages'][1]} new; differences: {len(problems)}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
