"""`Client.remote`: the Client's task methods against a `reelpoet serve` server, over httpx.

    client = Client.remote("http://gpu-box:8000", token=os.environ["REELPOET_TOKEN"])
    client.extend("shot.mp4", seconds=2.125, seed=3).save("tail.mov")  # same as Client.local

Each call submits a job (the media as uploads, the rest as JSON; see server/protocol.py),
follows it on the server-sent-event stream (progress callbacks, cancellation) and downloads the
result as lossless arrays, so the same seed gives the same arrays as a local call. Submits carry
an Idempotency-Key, one per call, so a retried submit never makes a second job; connection
errors, timeouts, 429 and 503 are retried with exponential backoff, honouring Retry-After.
Errors are the classes of `reelpoet.sdk.errors` the server names.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import httpx

from reelpoet.sdk.client import Result, add_task_methods, bind_task_call, read_source
from reelpoet.sdk.client import sampling_from as check_options
from reelpoet.sdk.errors import (
    CancelledError,
    JobInterruptedError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    ServerUnreachableError,
)
from reelpoet.sdk.media.source import media_path
from reelpoet.sdk.server.protocol import (
    MEDIA_ARGUMENTS,
    decode_result,
    encode_argument,
    error_class,
)

_RETRY_STATUSES = (429, 503)  # busy: the same request may succeed later
_BACKOFF_S, _BACKOFF_CAP_S = 0.5, 30.0  # 0.5, 1, 2, 4 ... seconds between tries
_OUTAGE_POLL_S = 2.0  # while a job's server is down: look again this often


class RemoteClient:
    """The task methods of `Client` (same names, arguments and results) run by a server.

    `token`: the server's bearer token; `timeout`: seconds each HTTP request may take
    (connecting, or waiting for the next bytes); `retries`: tries after the first for
    connection errors, timeouts, 429 and 503. `outage_s`: once a job is submitted, how long the
    server may stay unreachable before the call gives up: a restarted server runs its
    unfinished jobs again (docs/server.md), so a call waits through a restart and returns the
    job's result. `transport`: an httpx transport (tests, proxies).
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        outage_s: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url, self.retries, self.outage_s = url.rstrip("/"), retries, outage_s
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one task -----------------------------------------------------------------------------
    def _run(self, task: str, args: tuple, kwargs: dict) -> Result | float:
        named, options = bind_task_call(task, args, kwargs)
        progress, cancelled = options.pop("progress", None), options.pop("cancelled", None)
        check_options(options)  # unknown options and bad values fail here, before any upload
        params, files = _encode(named)
        params.update(options)
        if cancelled is not None and cancelled():
            raise CancelledError("cancelled before it was sent")
        job = self._submit(task, params, files)
        final = self._follow(job["id"], progress, cancelled)
        return self._outcome(final)

    def _submit(self, task: str, params: dict, files: dict) -> dict:
        headers = {"Idempotency-Key": uuid.uuid4().hex}  # the same on every retry of this call
        if files:
            form = {"task": task, "params": json.dumps(params)}
            response = self._request("POST", "/v1/jobs", headers=headers, data=form, files=files)
        else:
            body = {"task": task, "params": params}
            response = self._request("POST", "/v1/jobs", headers=headers, json=body)
        return response.json()

    def _follow(self, job_id: str, progress, cancelled) -> dict:
        """Read the job's event stream until it finishes, reporting progress and polling
        `cancelled` at every event (the server sends one at least every second); reconnects
        when the stream breaks, for up to `outage_s` of the server not answering."""
        failures, shown, unreachable_since = 0, None, None
        while True:
            try:
                with self._http.stream("GET", f"/v1/jobs/{job_id}/events") as response:
                    if response.status_code >= 400:
                        response.read()
                        _raise_for(response)
                    for line in response.iter_lines():
                        if cancelled is not None and cancelled():
                            self._request("DELETE", f"/v1/jobs/{job_id}")
                            raise CancelledError(f"cancelled; job {job_id} was cancelled too")
                        if not line.startswith("data:"):
                            continue
                        status, failures, unreachable_since = json.loads(line[5:]), 0, None
                        step = (status["progress"]["done"], status["progress"]["total"])
                        if progress is not None and step[1] and step != shown:
                            shown = step
                            progress(*step)
                        if status["state"] not in ("queued", "running"):
                            return status
            except httpx.TransportError as exc:
                failures += 1
                unreachable_since = unreachable_since or time.monotonic()
                if time.monotonic() - unreachable_since > self.outage_s:
                    error = _transport_error(exc)
                    raise type(error)(f"{error} (job {job_id} stays on the server)") from exc
                time.sleep(min(_backoff(failures - 1), _OUTAGE_POLL_S))

    def _outcome(self, status: dict) -> Result | float:
        state, error = status["state"], status.get("error") or {}
        message = error.get("message", state)
        if state == "succeeded":
            result = decode_result(self._request("GET", status["result"]).content)
            if isinstance(result, Result):
                result.metadata["job_id"] = status["id"]
            return result
        if state == "cancelled":
            raise CancelledError(message)
        if state == "interrupted":
            raise JobInterruptedError(message)
        raise error_class(error.get("type", "ServerError"))(message)

    # -- HTTP ---------------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        """One request with retries; a typed error for a failure that retrying did not fix."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if last:
                    raise _transport_error(exc) from exc
                time.sleep(_backoff(attempt))
                continue
            if response.status_code in _RETRY_STATUSES and not last:
                time.sleep(_retry_after(response) or _backoff(attempt))
                continue
            _raise_for(response)
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")


def _encode(named: dict) -> tuple[dict, dict]:
    """The named arguments as (JSON params, multipart files): media paths as their bytes,
    in-memory media (a Clip, an OTIO clip, an array) as .npz, everything else as JSON."""
    params, files = {}, {}
    for name, value in named.items():
        if name not in MEDIA_ARGUMENTS or _is_box(value):
            params[name] = _jsonable(value)
        elif isinstance(value, (str, os.PathLike)):
            path = media_path(value)  # a missing file fails here, as it does locally
            files[name] = (path.name, path.read_bytes(), "application/octet-stream")
        else:
            if name == "source":
                value = read_source(value)  # an OTIO clip is read here, by its source range
            files[name] = (f"{name}.npz", encode_argument(name, value), "application/x-npz")
    return params, files


def _is_box(value) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 4


def _jsonable(value):
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value.item() if hasattr(value, "item") else value  # numpy scalars


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        error = response.json()["error"]
        cls, message = error_class(error["type"]), error["message"]
    except (ValueError, KeyError, TypeError):
        cls, message = ServerError, f"HTTP {response.status_code}: {response.text[:200]}"
    if issubclass(cls, RateLimitedError):
        raise cls(message, _retry_after(response))
    raise cls(message)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None  # (an HTTP date: use the backoff)


def _backoff(attempt: int) -> float:
    return min(_BACKOFF_CAP_S, _BACKOFF_S * 2**attempt)


def _transport_error(exc: httpx.TransportError):
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeoutError(f"the server did not answer in time ({exc!r})")
    return ServerUnreachableError(f"cannot reach the server: {exc}")


def _task_method(name: str):
    def method(self, *args, **kwargs):
        return self._run(name, args, kwargs)

    return method


add_task_methods(RemoteClient, _task_method)

__all__ = ["RemoteClient"]
