"""`AsyncClient`: the Client's task methods as coroutines, local or remote.

    client = AsyncClient.remote("http://gpu-box:8000", token=token)  # or AsyncClient.local()
    clip, sound = await asyncio.gather(
        client.text_to_video("a red ball", seed=1), client.text_to_audio("a drum", seed=1)
    )

Each call runs the synchronous client (`Client.local` or `Client.remote`) in a worker thread,
so there is one implementation of every task and the event loop never blocks. Cancelling the
awaiting task cancels the work (at the next generation step; remotely, the server's job too).
Progress callbacks are called on the event loop's thread, so they may touch asyncio objects.
"""

from __future__ import annotations

import asyncio
import os
import threading

from reelpoet.sdk.client import Client, add_task_methods, bind_task_call


class AsyncClient:
    def __init__(self, client) -> None:
        """`client`: a `Client` (local) or a `RemoteClient`."""
        self._client = client

    @classmethod
    def local(
        cls, bundle: str | os.PathLike[str] | None = None, threads: int | None = None
    ) -> AsyncClient:
        return cls(Client.local(bundle, threads))

    @classmethod
    def remote(
        cls,
        url: str,
        token: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        outage_s: float = 120.0,
    ) -> AsyncClient:
        return cls(Client.remote(url, token, timeout, retries, outage_s))

    async def aclose(self) -> None:
        close = getattr(self._client, "close", None)
        if close is not None:
            close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def _run(self, name: str, args: tuple, kwargs: dict):
        named, options = bind_task_call(name, args, kwargs)
        loop = asyncio.get_running_loop()
        stop = threading.Event()  # set when the awaiting task is cancelled
        user_cancelled, user_progress = options.get("cancelled"), options.get("progress")
        options["cancelled"] = lambda: stop.is_set() or bool(user_cancelled and user_cancelled())
        if user_progress is not None:
            options["progress"] = lambda done, total: loop.call_soon_threadsafe(
                user_progress, done, total
            )
        work = asyncio.to_thread(getattr(self._client, name), **named, **options)
        try:
            return await work
        except asyncio.CancelledError:
            stop.set()  # the thread stops at its next step; nothing waits for it
            raise


def _coroutine(name: str):
    async def method(self, *args, **kwargs):
        return await self._run(name, args, kwargs)

    return method


add_task_methods(AsyncClient, _coroutine)

__all__ = ["AsyncClient"]
