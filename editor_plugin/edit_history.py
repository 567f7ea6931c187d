"""Undo and redo as timeline snapshots: each edit keeps the timeline's OTIO JSON before and
after it, so undo restores exactly what was there (metadata, variants, markers included) and no
edit needs its own inverse. Plain Python, so the CLI and tests use the same history as the panel.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class _Entry:
    description: str
    before: str
    after: str


class EditHistory:
    """A linear history of snapshot pairs with a movable position and a "clean" mark (the
    state last saved)."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self._position = 0  # entries[:position] are applied
        self._clean: int | None = 0

    def record(self, description: str, before: str, after: str) -> None:
        """A new edit: what was undone past this point can no longer be redone."""
        del self._entries[self._position :]
        if self._clean is not None and self._clean > self._position:
            self._clean = None  # the saved state was on the branch just dropped
        self._entries.append(_Entry(description, before, after))
        self._position += 1

    def undo(self) -> str:
        """The snapshot to restore; raises IndexError when there is nothing to undo."""
        if not self.can_undo:
            raise IndexError("nothing to undo")
        self._position -= 1
        return self._entries[self._position].before

    def redo(self) -> str:
        if not self.can_redo:
            raise IndexError("nothing to redo")
        self._position += 1
        return self._entries[self._position - 1].after

    @property
    def can_undo(self) -> bool:
        return self._position > 0

    @property
    def can_redo(self) -> bool:
        return self._position < len(self._entries)

    @property
    def undo_text(self) -> str:
        return self._entries[self._position - 1].description if self.can_undo else ""

    @property
    def redo_text(self) -> str:
        return self._entries[self._position].description if self.can_redo else ""

    @property
    def is_clean(self) -> bool:
        return self._clean == self._position

    def mark_clean(self) -> None:
        self._clean = self._position
