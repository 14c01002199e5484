"""How the parser answers real-world phrasings (tests/backends/local/phrasings.py): accepted right, refused
right for the right kind of reason, and wrong; wrong must be 0. The wrong ones are listed on stderr."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from tests.backends.local.phrasings import ACCEPTED_RIGHT, PHRASINGS, REFUSED_RIGHT, WRONG, outcome, verdict


def run() -> list[dict[str, Any]]:
    verdicts = {phrasing: verdict(phrasing) for phrasing in PHRASINGS}
    for phrasing, found in verdicts.items():
        if found == WRONG:
            print(
                f"wrong: {phrasing.text!r}: expected {sorted(phrasing.expected)}, got {sorted(outcome(phrasing))}",
                file=sys.stderr,
            )
    counts = Counter(verdicts.values())
    rows: list[dict[str, Any]] = [
        {"name": f"phrasings {name}", "value": counts[name], "unit": "phrasings", "floor": None, "ok": None}
        for name in (ACCEPTED_RIGHT, REFUSED_RIGHT)
    ]
    rows.append({"name": f"phrasings {WRONG}", "value": counts[WRONG], "unit": "phrasings", "floor": 0,
                 "ok": counts[WRONG] == 0})
    return rows
