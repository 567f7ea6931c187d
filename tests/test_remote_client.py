"""Client.remote's HTTP behaviour against a scripted server (httpx.MockTransport): retries with
backoff that honour Retry-After, one idempotency key per call, and server errors raised as the
classes of reelpoet.sdk.errors."""

from __future__ import annotations

import httpx
import pytest

from reelpoet.sdk import remote_client
from reelpoet.sdk.errors import (
    AuthenticationError,
    InvalidRequestError,
    RateLimitedError,
    ServerError,
    ServerUnreachableError,
    UnsupportedMediaError,
)
from reelpoet.sdk.remote_client import RemoteClient


@pytest.fixture
def sleeps(monkeypatch):
    """The waits the client makes between tries, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(remote_client.time, "sleep", waited.append)
    return waited


def _client(answers: list, seen: list | None = None, retries: int = 3) -> RemoteClient:
    """A client whose n-th request gets answers[n] (a Response, or an exception to raise)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return RemoteClient("http://server", token="t" * 20, retries=retries,
                        transport=httpx.MockTransport(handle))  # fmt: skip


def _error(status: int, kind: str, message: str = "no", **headers) -> httpx.Response:
    body = {"error": {"type": kind, "message": message}}
    return httpx.Response(status, json=body, headers=headers)


def test_busy_answers_are_retried_after_the_time_the_server_asks(sleeps):
    seen = []
    ok = httpx.Response(201, json={"id": "1"})
    client = _client([_error(429, "RateLimitedError", **{"Retry-After": "7"}),
                      _error(503, "ServerError"), ok], seen)  # fmt: skip
    assert client._submit("text_to_image", {"prompt": "x"}, {}) == {"id": "1"}
    assert sleeps == [7.0, 1.0]  # Retry-After honoured; then the backoff's second step
    keys = {r.headers["idempotency-key"] for r in seen}
    assert len(keys) == 1 and seen[0].headers["authorization"] == "Bearer " + "t" * 20


def test_a_server_still_busy_after_the_retries_is_a_rate_limited_error(sleeps):
    busy = [_error(429, "RateLimitedError", "queue full", **{"Retry-After": "2"})] * 3
    with pytest.raises(RateLimitedError, match="queue full") as error:
        _client(busy, retries=2)._submit("text_to_image", {"prompt": "x"}, {})
    assert error.value.retry_after == 2.0 and sleeps == [2.0, 2.0]


def test_connection_errors_back_off_exponentially_then_fail_plainly(sleeps):
    down = [httpx.ConnectError("refused")] * 4
    with pytest.raises(ServerUnreachableError, match="cannot reach"):
        _client(down)._submit("text_to_image", {"prompt": "x"}, {})
    assert sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    "answer, error",
    [
        (_error(401, "AuthenticationError"), AuthenticationError),
        (_error(422, "UnsupportedMediaError"), UnsupportedMediaError),
        (_error(422, "InvalidRequestError"), InvalidRequestError),
        (_error(500, "SomethingNew"), ServerError),  # a type this client does not know
        (httpx.Response(502, text="<html>bad gateway</html>"), ServerError),  # not our JSON
    ],
)
def test_server_errors_are_raised_as_our_classes(sleeps, answer, error):
    with pytest.raises(error):
        _client([answer])._submit("text_to_image", {"prompt": "x"}, {})
    assert sleeps == []  # none of these is worth retrying


def test_bad_options_fail_before_anything_is_sent():
    client = _client([])  # any request would fail: no answers scripted
    with pytest.raises(InvalidRequestError, match="unknown option"):
        client.text_to_image("x", colour="red")
    with pytest.raises(InvalidRequestError, match="temperature"):
        client.text_to_image("x", temperature=-1)


def test_an_otio_clip_with_a_relative_path_is_refused_as_locally(tmp_path):
    import opentimelineio as otio

    clip = otio.schema.Clip(
        name="shot",
        media_reference=otio.schema.ExternalReference(target_url="media/shot.mp4"),
        source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(12, 24)
        ),
    )
    with pytest.raises(InvalidRequestError, match="media_root"):
        _client([]).extend(clip, 1.0)  # nothing is sent: no answers are scripted
