"""A training run's loss curve as CSV: appended to, so a resumed run continues the same file.
The first column is the step."""

from __future__ import annotations

import csv
import os
from pathlib import Path


class CsvLog:
    def __init__(self, path: Path, columns: list[str], start_step: int = 0) -> None:
        self.path = Path(path)
        self.columns = columns
        if self.path.exists():
            self.drop_after(start_step)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("w", newline="") as f:
                csv.writer(f).writerow(columns)

    def drop_after(self, step: int) -> None:
        """Forget rows logged after `step`: a run resumed from an older checkpoint redoes them."""
        with self.path.open(newline="") as f:
            rows = list(csv.reader(f))
        kept = [rows[0], *(r for r in rows[1:] if r and int(r[0]) <= step)]
        if len(kept) < len(rows):
            temp = self.path.with_suffix(".partial")
            with temp.open("w", newline="") as f:
                csv.writer(f).writerows(kept)
            os.replace(temp, self.path)

    def write(self, row: dict[str, float | int | str]) -> None:
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerow([row.get(c, "") for c in self.columns])
