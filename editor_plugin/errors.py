"""The editor's errors: reelpoet errors (``reelpoet.sdk.errors``) that a timeline edit, a save
or an export can raise, each with a message that says what to do."""

from __future__ import annotations

from reelpoet.sdk.errors import InvalidRequestError, ReelpoetError


class EditorError(ReelpoetError):
    """A timeline operation could not be done; the timeline is left as it was."""


class OverwriteRefusedError(EditorError):
    """The destination exists and the user has not confirmed replacing it."""


class UnsupportedTimelineError(EditorError):
    """A file is neither a timeline format an installed OTIO adapter reads nor media."""


class OfflineMediaError(EditorError):
    """The clip's media is not a readable local file (missing, a URL, a placeholder)."""


class PlacementError(EditorError, InvalidRequestError):
    """A result cannot go where it was asked to (the clip moved, the range is not free)."""


class ExportError(EditorError):
    """An adapter could not write the timeline in the asked format."""
