"""A training run's loss curve as CSV (append-only, so a resumed run continues the same file)."""

from __future__ import annotations

import csv
from pathlib import Path


class CsvLog:
    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = Path(path)
        self.columns = columns
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("w", newline="") as f:
                csv.writer(f).writerow(columns)

    def write(self, row: dict[str, float | int | str]) -> None:
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerow([row.get(c, "") for c in self.columns])
