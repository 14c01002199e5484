"""`python -m bench [module …]`: run the benchmarks and print one table. Exit 1 if a floor is missed."""

from __future__ import annotations

import importlib
import sys
from typing import Any

MODULES = ("bench.pipeline", "bench.engine", "bench.public", "bench.flood", "bench.memory", "bench.phrasings",
           "bench.hardcases", "bench.faces")


def main(argv: list[str]) -> int:
    names = [f"bench.{name}" for name in argv] or list(MODULES)
    rows: list[dict[str, Any]] = []
    for name in names:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            print(f"(skipping {name}: not present)", file=sys.stderr)
            continue
        print(f"running {name} …", file=sys.stderr, flush=True)
        rows.extend(module.run())
    print_table(rows)
    return 1 if any(row.get("ok") is False for row in rows) else 0


def print_table(rows: list[dict[str, Any]]) -> None:
    header = ("benchmark", "value", "floor", "ok")
    lines = [(row["name"], f"{row['value']:.3f} {row['unit']}",
              "" if row.get("floor") is None else f"<= {row['floor']:g} {row['unit']}",
              {True: "yes", False: "NO", None: ""}[row.get("ok")]) for row in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=False)]
    print(" | ".join(title.ljust(width) for title, width in zip(header, widths, strict=True)))
    print("-|-".join("-" * width for width in widths))
    for line in lines:
        print(" | ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
