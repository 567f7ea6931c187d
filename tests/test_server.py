"""`reelpoet serve` as a real uvicorn process on 127.0.0.1, with the random test bundle: every
task remote gives the local arrays for the same seed; concurrent jobs all finish; bad requests
get a 4xx JSON error and the server keeps serving; idempotency keys, cancellation, limits (429
with Retry-After), and a SIGKILL or SIGTERM mid-job followed by a restart on the same data
folder: unfinished jobs run again."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from reelpoet.sdk.cli import SAMPLE_CLIP
from reelpoet.sdk.client import Client
from reelpoet.sdk.errors import AuthenticationError, CancelledError, InvalidRequestError
from reelpoet.sdk.media import read_video
from reelpoet.sdk.remote_client import RemoteClient
from reelpoet.sdk.server.protocol import decode_result, encode_arrays

TOKEN, OTHER_TOKEN = "token-" + "a" * 20, "token-" + "b" * 20


class Server:
    """`reelpoet serve` in a subprocess on a free loopback port."""

    def __init__(self, bundle: Path, data_dir: Path, *options: str, port: int = 0) -> None:
        if not port:
            with socket.socket() as probe:  # a free port (the race with others is harmless)
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        tokens = data_dir.parent / f"{data_dir.name}.tokens"
        tokens.write_text(f"# test tokens\n{TOKEN}\n{OTHER_TOKEN}\n")
        command = [sys.executable, "-m", "reelpoet.sdk.cli", "serve", "--port", str(port)]
        command += ["--data-dir", str(data_dir), "--bundle", str(bundle), "--threads", "1"]
        command += ["--token-file", str(tokens), *options]
        self.log = data_dir.parent / f"{data_dir.name}.log"
        with self.log.open("ab") as log:
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            self.process = subprocess.Popen(command, stdout=log, stderr=log, env=env)
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("the server did not come up in 60 s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.process.send_signal(sig)
        self.process.wait(30)

    def http(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def server(bundle_dir, tmp_path_factory):
    running = Server(
        bundle_dir, tmp_path_factory.mktemp("serve") / "data", "--workers", "2",
        "--max-upload-mb", "2",
    )  # fmt: skip
    yield running
    running.stop()


@pytest.fixture(scope="module")
def local(bundle_dir):
    return Client.local(bundle_dir, threads=1)


@pytest.fixture(scope="module")
def remote(server):
    with Client.remote(server.url, token=TOKEN) as client:
        yield client


@pytest.fixture(scope="module")
def small_clip():
    """Half a second of the sample at 128x72: a Clip source that travels as .npz."""
    return read_video(SAMPLE_CLIP, (0.0, 0.5), size=(128, 72), fit="stretch")


def _calls(clip) -> dict:
    """One call per task (two for inpaint: a box and per-frame masks); a path source travels
    as the file's bytes, a Clip as arrays."""
    masks = np.zeros(clip.frames.shape[:3], bool)
    masks[2:5, 10:40, 30:90] = True
    return {
        "text_to_video": (("a red ball",), {"seconds": 2.5, "seed": 3}),
        "text_to_image": (("a yellow star",), {"seed": 1}),
        "image_to_video": ((clip.frames[0],), {"seed": 2}),
        "extend": ((str(SAMPLE_CLIP),), {"seconds": 0.5, "head": True, "seed": 2}),
        "inpaint": ((clip, (10, 10, 60, 50), "a blue square"), {"seed": 1}),
        "inpaint-masks": ((clip, masks), {"seed": 1, "temperature": 0.5}),
        "outpaint": ((clip,), {"aspect": 2.5, "top_k": 32}),
        "stylize": ((clip, "in purple"), {"seed": 5, "guidance_scale": 1.0}),
        "score": ((str(SAMPLE_CLIP),), {"top_p": 0.9}),
        "text_to_audio": (("a drum",), {"seed": 4}),
        "rate": ((clip, "a rabbit"), {}),
    }


@pytest.mark.parametrize("call", list(_calls(read_video(SAMPLE_CLIP, (0, 0.04)))))
def test_each_task_remote_gives_the_local_arrays(call, local, remote, small_clip):
    args, options = _calls(small_clip)[call]
    method = call.split("-")[0]
    here = getattr(local, method)(*args, **options)
    steps = []
    if method != "rate":
        options = {**options, "progress": lambda done, total: steps.append((done, total))}
    there = getattr(remote, method)(*args, **options)
    if method == "rate":
        assert there == here
        return
    for name in ("frames", "audio"):
        ours, theirs = getattr(here, name), getattr(there, name)
        assert (ours is None and theirs is None) or np.array_equal(ours, theirs), name
    assert (there.fps, there.sample_rate) == (here.fps, here.sample_rate)
    assert there.metadata["task"] == here.metadata["task"]
    assert there.metadata["sampling"] == here.metadata["sampling"]
    for key in ("bundle_id", "bundle_sha256"):  # provenance travels with remote results too
        assert there.metadata[key] == here.metadata[key] and len(here.metadata[key]) > 8
    assert steps and steps[-1][0] == steps[-1][1]  # progress came, and ended at its total


def test_eight_concurrent_jobs_all_complete(local, remote):
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda seed: remote.text_to_image("a star", seed=seed), range(8)))
    for seed, result in enumerate(results):
        assert np.array_equal(result.frames, local.text_to_image("a star", seed=seed).frames)
    assert len({r.metadata["job_id"] for r in results}) == 8


def _mp4_bytes() -> bytes:
    return (Path(__file__).parents[1] / "sdk" / "samples" / "big_buck_bunny_1s.webm").read_bytes()


def _chunked_upload(size: int):
    """A multipart body with one file part of `size` zero bytes, as a generator (so httpx
    sends it chunked, without a Content-Length)."""
    yield b'--x\r\nContent-Disposition: form-data; name="source"; filename="a.mp4"\r\n\r\n'
    for _ in range(size // 65536):
        yield b"\0" * 65536
    yield b"\r\n--x--\r\n"


BAD_REQUESTS = {
    "not media": (
        {"data": {"task": "stylize", "params": '{"prompt": "x"}'},
         "files": {"source": ("a.mp4", os.urandom(4000))}},
        422, ("UnsupportedMediaError", "CorruptMediaError"),
    ),
    "truncated media": (
        {"data": {"task": "stylize", "params": '{"prompt": "x"}'},
         "files": {"source": ("a.webm", _mp4_bytes()[:3000])}},
        422, ("CorruptMediaError", "UnsupportedMediaError"),
    ),
    "bad npz": (
        {"data": {"task": "image_to_video"},
         "files": {"image": ("i.npz", encode_arrays(image=np.zeros((4, 4), np.float32)))}},
        422, ("InvalidRequestError",),
    ),
    "oversized upload": (
        {"data": {"task": "stylize"}, "files": {"source": ("a.mp4", b"\0" * (3 * 1024**2))}},
        413, ("UploadTooLargeError",),
    ),
    "oversized chunked upload": (  # no Content-Length: counted as it arrives
        {"content": _chunked_upload(3 * 1024**2),
         "headers": {"Content-Type": "multipart/form-data; boundary=x"}},
        413, ("UploadTooLargeError",),
    ),
    "unknown task": ({"json": {"task": "make_coffee"}}, 422, ("InvalidRequestError",)),
    "missing argument": ({"json": {"task": "text_to_video"}}, 422, ("InvalidRequestError",)),
    "unknown argument": (
        {"json": {"task": "text_to_image", "params": {"prompt": "x", "colour": 1}}},
        422, ("InvalidRequestError",),
    ),
    "seconds out of range": (
        {"json": {"task": "text_to_video", "params": {"prompt": "x", "seconds": 100}}},
        422, ("InvalidRequestError",),
    ),
    "temperature out of range": (
        {"json": {"task": "text_to_image", "params": {"prompt": "x", "temperature": -1}}},
        422, ("InvalidRequestError",),
    ),
    "seed of the wrong type": (
        {"json": {"task": "text_to_image", "params": {"prompt": "x", "seed": "3"}}},
        422, ("InvalidRequestError",),
    ),
    "box outside the frame": (
        {"data": {"task": "inpaint", "params": '{"mask": [0, 0, 5000, 10]}'},
         "files": {"source": ("a.webm", _mp4_bytes())}},
        422, ("InvalidRequestError",),
    ),
    "params not JSON": (
        {"data": {"task": "text_to_image", "params": "{prompt"},
         "files": {"source": ("a.webm", b"x")}},
        422, ("InvalidRequestError",),
    ),
    "path-traversal file name": (
        {"data": {"task": "stylize", "params": '{"prompt": "x"}'},
         "files": {"source": ("../../escaped.webm", _mp4_bytes())}},
        422, ("InvalidRequestError",),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_requests_get_a_json_4xx_and_the_server_keeps_serving(case, server, tmp_path):
    request, status, types = BAD_REQUESTS[case]
    with server.http() as http:
        response = http.post("/v1/jobs", **request)
        assert response.status_code == status, response.text
        assert response.json()["error"]["type"] in types
        assert response.json()["error"]["message"]
        assert http.get("/readyz").status_code == 200
    data_dir = server.log.parent
    assert not list(data_dir.rglob("escaped*"))  # nothing written by a client's name
    assert not any((data_dir / "data" / "uploads").iterdir())  # refused uploads are removed


@pytest.mark.parametrize(
    "token, path, status, kind",
    [
        (None, "/v1/jobs/" + "0" * 32, 401, "AuthenticationError"),
        ("wrong-token-1234567890", "/v1/jobs/" + "0" * 32, 401, "AuthenticationError"),
        (TOKEN, "/v1/jobs/" + "0" * 32, 404, "NotFoundError"),
        (TOKEN, "/v1/jobs/../../etc/passwd", 404, "NotFoundError"),
        (TOKEN, "/no/such/endpoint", 404, "NotFoundError"),
    ],
)
def test_auth_and_unknown_paths_get_json_errors(server, token, path, status, kind):
    with server.http(token) as http:
        response = http.get(path)
    assert response.status_code == status
    assert response.json()["error"]["type"] == kind
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_job_is_visible_to_its_token_only(server, remote):
    result = remote.text_to_image("a star", seed=9)
    job = result.metadata["job_id"]
    with server.http(OTHER_TOKEN) as other, server.http() as mine:
        assert other.get(f"/v1/jobs/{job}").status_code == 404
        assert other.get(f"/v1/jobs/{job}/result").status_code == 404
        assert mine.get(f"/v1/jobs/{job}").json()["state"] == "succeeded"
    stranger = Client.remote(server.url, token="wrong-token-1234567890")
    with stranger, pytest.raises(AuthenticationError):
        stranger.text_to_image("a star")


def test_an_idempotency_key_never_makes_a_second_job(server):
    body = {"task": "text_to_image", "params": {"prompt": "a star", "seed": 5}}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    with server.http() as http:
        first = http.post("/v1/jobs", json=body, headers=key)
        again = http.post("/v1/jobs", json=body, headers=key)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["id"] == first.json()["id"]
        other = {**body, "params": {"prompt": "a star", "seed": 6}}
        reused = http.post("/v1/jobs", json=other, headers=key)
        assert reused.status_code == 422 and "Idempotency-Key" in reused.text


class LoseFirstAnswer(httpx.HTTPTransport):
    """Delivers the first submit to the server, then drops its answer, as a broken connection
    would: the client must retry with the same key and get the job the server already made."""

    def __init__(self) -> None:
        super().__init__()
        self.submits: list[tuple[str, str]] = []  # (idempotency key, job id) per answer

    def handle_request(self, request):
        response = super().handle_request(request)
        if request.method == "POST":
            response.read()
            self.submits.append((request.headers["idempotency-key"], response.json()["id"]))
            if len(self.submits) == 1:
                raise httpx.ReadError("connection lost", request=request)
        return response


def test_a_retried_submit_returns_the_same_job(server, local):
    transport = LoseFirstAnswer()
    with RemoteClient(server.url, token=TOKEN, transport=transport) as client:
        result = client.text_to_image("a star", seed=7)
    (key1, job1), (key2, job2) = transport.submits
    assert key1 == key2 and job1 == job2 == result.metadata["job_id"]
    assert np.array_equal(result.frames, local.text_to_image("a star", seed=7).frames)


def test_cancelling_a_remote_call_cancels_the_job(server, remote):
    steps = []
    with pytest.raises(CancelledError) as stop:
        remote.text_to_video(
            "x", seconds=20, progress=lambda i, n: steps.append(i), cancelled=lambda: len(steps) > 2
        )
    job = str(stop.value).split("job ")[1].split(" ")[0]
    with server.http() as http:
        deadline = time.monotonic() + 20
        while http.get(f"/v1/jobs/{job}").json()["state"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        status = http.get(f"/v1/jobs/{job}").json()
    assert status["state"] == "cancelled" and status["error"]["type"] == "CancelledError"


def test_the_event_stream_and_the_schema(server):
    with server.http() as http:
        job = http.post("/v1/jobs", json={"task": "text_to_image", "params": {"prompt": "x"}})
        with http.stream("GET", f"/v1/jobs/{job.json()['id']}/events") as events:
            assert events.headers["content-type"].startswith("text/event-stream")
            states = [json.loads(line[5:])["state"] for line in events.iter_lines() if line]
        assert states[-1] == "succeeded" and set(states) <= {"queued", "running", "succeeded"}
        schema = http.get("/openapi.json").json()
    assert {"/v1/jobs", "/v1/jobs/{job_id}/events", "/healthz"} <= set(schema["paths"])
    tasks = [v["title"] for v in schema["components"]["schemas"]["TaskParams"]["oneOf"]]
    assert "inpaint" in tasks and "rate" in tasks


def test_async_client_runs_tasks_concurrently_and_cancels(server, local, small_clip):
    import asyncio

    from reelpoet.sdk.async_client import AsyncClient

    async def main():
        async with AsyncClient.remote(server.url, token=TOKEN) as client:
            image, score = await asyncio.gather(
                client.text_to_image("a star", seed=2), client.rate(small_clip, "a rabbit")
            )
            seen = []
            work = asyncio.create_task(
                client.text_to_video("x", seconds=20, progress=lambda i, n: seen.append(i))
            )
            while not seen:
                await asyncio.sleep(0.05)
            work.cancel()
            with pytest.raises(asyncio.CancelledError):
                await work
        return image, score

    image, score = asyncio.run(main())
    assert np.array_equal(image.frames, local.text_to_image("a star", seed=2).frames)
    assert score == local.rate(small_clip, "a rabbit")


def test_the_cli_runs_a_task_on_the_server(server, local, tmp_path):
    from reelpoet.sdk import cli

    out = tmp_path / "sound.wav"
    args = ["text-to-audio", "a drum", "--seed", "4", "-o", str(out), "--remote", server.url]
    assert cli.main([*args, "--token", TOKEN]) == 0
    assert out.stat().st_size > 1000
    assert cli.main([*args, "--token", "wrong-token-1234567890", "--overwrite"]) == 2


# -- limits, and a kill mid-job ----------------------------------------------------------------
@pytest.fixture(scope="module")
def killed_and_restarted(bundle_dir, tmp_path_factory):
    """One worker, room for one queued job, two unfinished jobs per token: a finished job, a
    long one running, one queued, two refused (token limit, full queue); then SIGKILL, and a
    restart on the same data folder. Returns what each step saw."""
    data = tmp_path_factory.mktemp("killed") / "data"
    limits = ("--workers", "1", "--queue-size", "1", "--per-token-jobs", "2")
    first = Server(bundle_dir, data, *limits)
    seen = {}
    try:
        with Client.remote(first.url, token=TOKEN) as client:
            seen["finished"] = client.text_to_image("a star", seed=11)
        with first.http() as http, first.http(OTHER_TOKEN) as other:
            seen["running"] = http.post("/v1/jobs", json=LONG_JOB).json()["id"]
            _wait_for_progress(http, seen["running"])
            quick = {"task": "text_to_image", "params": {"prompt": "a star", "seed": 11}}
            seen["queued"] = http.post("/v1/jobs", json=quick).json()["id"]
            seen["over_token_limit"] = http.post("/v1/jobs", json=quick)
            seen["queue_full"] = other.post("/v1/jobs", json=quick)
            seen["readyz_full"] = http.get("/readyz").status_code
    finally:
        first.stop(signal.SIGKILL)
    second = Server(bundle_dir, data, *limits)
    yield second, seen
    second.stop()


LONG_JOB = {"task": "text_to_video", "params": {"prompt": "x", "seconds": 60}}


def _wait_for_progress(http: httpx.Client, job: str) -> None:
    deadline = time.monotonic() + 30
    while http.get(f"/v1/jobs/{job}").json()["progress"]["done"] == 0:
        assert time.monotonic() < deadline, "the long job never started"
        time.sleep(0.05)


def _wait_until_finished(http: httpx.Client, job: str) -> dict:
    deadline = time.monotonic() + 60
    while (status := http.get(f"/v1/jobs/{job}").json())["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    return status


@pytest.mark.parametrize("refused", ["over_token_limit", "queue_full"])
def test_limits_answer_429_with_retry_after(killed_and_restarted, refused):
    _, seen = killed_and_restarted
    response = seen[refused]
    assert response.status_code == 429
    assert response.json()["error"]["type"] == "RateLimitedError"
    assert int(response.headers["retry-after"]) >= 1
    assert seen["readyz_full"] == 503


def test_finished_results_survive_a_kill(killed_and_restarted):
    server, seen = killed_and_restarted
    finished = seen["finished"]
    with server.http() as http:
        response = http.get(f"/v1/jobs/{finished.metadata['job_id']}/result")
    assert response.status_code == 200
    assert np.array_equal(decode_result(response.content).frames, finished.frames)


def test_jobs_unfinished_at_a_kill_run_again_after_the_restart(killed_and_restarted):
    server, seen = killed_and_restarted
    with server.http() as http:
        # The job that was running when the server died runs again (oldest first) ...
        _wait_for_progress(http, seen["running"])
        running = http.get(f"/v1/jobs/{seen['running']}").json()
        assert running["state"] == "running" and running["attempts"] == 2, running
        http.delete(f"/v1/jobs/{seen['running']}")  # (it is long: the test stops it here)
        assert _wait_until_finished(http, seen["running"])["state"] == "cancelled"
        # ... and the one that was waiting runs after it, to the result it would have had.
        queued = _wait_until_finished(http, seen["queued"])
        assert queued["state"] == "succeeded" and queued["attempts"] == 1, queued
        result = decode_result(http.get(queued["result"]).content)
    assert np.array_equal(result.frames, seen["finished"].frames)  # same prompt and seed


def test_a_remote_call_waits_through_a_server_restart(bundle_dir, tmp_path, local):
    """Kill the server while a client waits on its job, start it again on the same port and
    folder: the call returns the job's result, the same frames as running it locally."""
    data = tmp_path / "data"
    servers = [Server(bundle_dir, data)]
    running = threading.Event()
    try:
        with Client.remote(servers[0].url, token=TOKEN) as client, ThreadPoolExecutor(1) as pool:
            call = pool.submit(
                client.text_to_video,
                "a red ball",
                seconds=4.25,
                seed=5,
                progress=lambda done, total: running.set(),
            )
            assert running.wait(60), "the job never reported progress"
            servers[0].stop(signal.SIGKILL)
            servers.append(Server(bundle_dir, data, port=servers[0].port))
            result = call.result(timeout=120)
    finally:
        servers[-1].stop()
    expected = local.text_to_video("a red ball", seconds=4.25, seed=5)
    assert np.array_equal(result.frames, expected.frames)


def test_results_are_deleted_after_their_keep_time(bundle_dir, tmp_path):
    data = tmp_path / "data"
    server = Server(bundle_dir, data, "--keep-results-hours", str(2 / 3600))  # two seconds
    try:
        with server.http() as http:
            quick = {"task": "text_to_image", "params": {"prompt": "a star", "seed": 1}}
            job = http.post("/v1/jobs", json=quick).json()["id"]
            assert _wait_until_finished(http, job)["state"] == "succeeded"
            deadline = time.monotonic() + 30
            while not (status := http.get(f"/v1/jobs/{job}").json())["expired"]:
                assert time.monotonic() < deadline, status
                time.sleep(0.2)
            assert status["state"] == "succeeded" and status["result"] is None
            response = http.get(f"/v1/jobs/{job}/result")
            assert response.status_code == 410
            assert response.json()["error"]["type"] == "ResultExpiredError"
            assert not (data / "results" / f"{job}.npz").exists()
    finally:
        server.stop()


def test_a_graceful_stop_requeues_the_running_job_without_counting_it(bundle_dir, tmp_path):
    data = tmp_path / "data"
    first = Server(bundle_dir, data)
    try:
        with first.http() as http:
            job = http.post("/v1/jobs", json=LONG_JOB).json()["id"]
            _wait_for_progress(http, job)
    finally:
        first.stop(signal.SIGTERM)
    second = Server(bundle_dir, data)
    try:
        with second.http() as http:
            _wait_for_progress(http, job)
            status = http.get(f"/v1/jobs/{job}").json()
            assert status["state"] == "running" and status["attempts"] == 1, status
            http.delete(f"/v1/jobs/{job}")
            assert _wait_until_finished(http, job)["state"] == "cancelled"
    finally:
        second.stop()


def test_no_auth_is_refused_off_loopback(capsys, monkeypatch):
    from reelpoet.sdk import cli

    monkeypatch.delenv("REELPOET_TOKEN", raising=False)
    assert cli.main(["serve", "--no-auth", "--host", "0.0.0.0"]) == 2
    assert "loopback" in capsys.readouterr().err
    assert cli.main(["serve"]) == 2
    assert "needs a token" in capsys.readouterr().err
    with pytest.raises(InvalidRequestError, match="16 characters"):
        from reelpoet.sdk.server.config import ServerConfig

        ServerConfig(tokens=("short",))
