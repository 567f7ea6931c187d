"""The one exception hierarchy of reelpoet.

Every error that a user's input can cause is a ``ReelpoetError``; each message says what was wrong
and what to do. Low-level errors (PyAV, onnxruntime, OS) are mapped to the most specific class
here and re-raised ``from`` the original, so callers catch ours and still see the cause.

    ReelpoetError
    ├── InvalidRequestError (ValueError)      a parameter is out of range or inconsistent
    │   ├── InvalidTimeRangeError             a negative, reversed or empty time range
    │   └── UploadTooLargeError               a request body over the server's upload limit
    ├── CancelledError                        the caller cancelled a running job
    ├── MediaError                            a media file could not be used
    │   ├── MediaNotFoundError (FileNotFoundError)
    │   ├── UnsupportedMediaError             not media, or no stream of the kind asked for
    │   ├── CorruptMediaError                 truncated or undecodable
    │   └── MediaWriteError                   the output could not be written (nothing is left)
    ├── BundleError                           a model bundle is missing, tampered or mismatched
    │   ├── BundleNotInstalledError
    │   ├── BundleManifestError               manifest.json is unreadable, malformed or too new
    │   └── BundleIntegrityError              the files or graphs do not match the manifest
    └── RemoteError                           a reelpoet server could not do what was asked
        ├── ServerUnreachableError            no connection (after the retries)
        ├── RequestTimeoutError (TimeoutError) the server took longer than the timeout
        ├── AuthenticationError               a missing or wrong token (HTTP 401)
        ├── NotFoundError                     no such job, or no such endpoint (HTTP 404)
        ├── RateLimitedError                  the server is busy (HTTP 429/503, after retries)
        ├── JobInterruptedError               the server stopped while the job was queued or ran
        └── ServerError                       the server failed (HTTP 5xx) or answered nonsense

A server sends an error as JSON ``{"error": {"type": <class name here>, "message": ...}}``, and
``Client.remote`` raises the class of that name, so one ``except`` works local or remote.
"""

from __future__ import annotations


class ReelpoetError(Exception):
    """Base of every error reelpoet raises on purpose."""


class InvalidRequestError(ReelpoetError, ValueError):
    """A parameter is out of range or inconsistent with the others."""


class InvalidTimeRangeError(InvalidRequestError):
    """A time range is negative, reversed, empty or past the end of the media."""


class UploadTooLargeError(InvalidRequestError):
    """A request body is larger than the server accepts; send a shorter or smaller clip."""


class CancelledError(ReelpoetError):
    """The caller cancelled the work (between generation steps); nothing was written."""


class MediaError(ReelpoetError):
    """A media file could not be read or written."""


class MediaNotFoundError(MediaError, FileNotFoundError):
    """The media path does not exist."""


class UnsupportedMediaError(MediaError):
    """The file is not media PyAV can open, or lacks the stream asked for."""


class CorruptMediaError(MediaError):
    """The file opens but is truncated or cannot be decoded."""


class MediaWriteError(MediaError):
    """Writing media failed; no partial output file is left behind."""


class BundleError(ReelpoetError):
    """A model bundle is missing, tampered with, or does not match its manifest."""


class BundleNotInstalledError(BundleError):
    """No model bundle is installed where one was looked for."""


class BundleManifestError(BundleError):
    """A bundle's manifest.json cannot be read, is malformed, or has an unsupported format."""


class BundleIntegrityError(BundleError):
    """A bundle's files or graphs do not match its manifest: changed, missing, or unsafe.

    ``problems`` holds one line per problem found, each naming the file it is about.
    """

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class RemoteError(ReelpoetError):
    """A reelpoet server could not be reached, refused the call, or failed."""


class ServerUnreachableError(RemoteError):
    """No connection to the server could be made (after the retries)."""


class RequestTimeoutError(RemoteError, TimeoutError):
    """The server did not answer within the client's timeout."""


class AuthenticationError(RemoteError):
    """The server wants a token (``Authorization: Bearer ...``) and got none or a wrong one."""


class NotFoundError(RemoteError):
    """No such job (or endpoint) on this server, or the job belongs to another token."""


class RateLimitedError(RemoteError):
    """The server is busy (its queue, or this token's share of it, is full).

    ``retry_after`` is the number of seconds the server suggested waiting, if it said.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class JobInterruptedError(RemoteError):
    """The server stopped (crashed or restarted) while the job was queued or running; submit
    it again."""


class ResultExpiredError(RemoteError):
    """The job succeeded, but the server has since deleted its result (it keeps results for
    `--keep-results-hours`); run the job again."""


class ServerError(RemoteError):
    """The server failed (HTTP 5xx) or answered something this client cannot read."""
