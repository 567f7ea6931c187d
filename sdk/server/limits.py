"""The upload size limit, as ASGI middleware: a declared Content-Length over the limit is
refused before any of the body is read, and a body without one (chunked) is counted as it
arrives, so no request can make the server buffer more than the limit."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelpoet.sdk.errors import UploadTooLargeError


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, refuse) -> None:
        """`refuse(exc)`: the ASGI response for an UploadTooLargeError (our JSON error)."""
        self.app, self.max_bytes, self.refuse = app, max_bytes, refuse

    def _error(self) -> UploadTooLargeError:
        mb = self.max_bytes / 1024**2
        return UploadTooLargeError(
            f"the request is larger than this server's upload limit ({mb:g} MiB); send a "
            "shorter or smaller clip"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self.refuse(self._error())(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise self._error()  # inside the route's body read: answered as JSON 413
            return message

        await self.app(scope, counted, send)
