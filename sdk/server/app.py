"""The job API as a Starlette app, and `serve`, which runs it on uvicorn.

Starlette rather than FastAPI: the API is eight routes whose inputs (multipart media plus one
JSON object) are checked by the Client's own validation, so FastAPI's pydantic models would be
a second copy of those rules and a heavy dependency; Starlette is small, plain ASGI, and the
OpenAPI schema is written by hand (openapi.py).

    POST   /v1/jobs               submit (multipart: task, params JSON, uploads) -> 201 job
    GET    /v1/jobs/{id}          status and progress
    GET    /v1/jobs/{id}/events   the status as server-sent events until the job ends
    GET    /v1/jobs/{id}/result   the result as .npz
    DELETE /v1/jobs/{id}          cancel
    GET    /healthz, /readyz, /openapi.json
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import shutil
import time
import uuid
from pathlib import Path

from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.routing import Route

from reelpoet.sdk.client import Client
from reelpoet.sdk.errors import (
    AuthenticationError,
    InvalidRequestError,
    MediaError,
    NotFoundError,
    RateLimitedError,
    ReelpoetError,
    ResultExpiredError,
    ServerError,
    UploadTooLargeError,
)
from reelpoet.sdk.server import store as states
from reelpoet.sdk.server.auth import JOBS_SCOPE, BearerTokens
from reelpoet.sdk.server.config import ServerConfig
from reelpoet.sdk.server.limits import BodyLimit
from reelpoet.sdk.server.openapi import openapi_schema
from reelpoet.sdk.server.protocol import MEDIA_ARGUMENTS, error_body
from reelpoet.sdk.server.runner import JobRunner
from reelpoet.sdk.server.store import Job, JobStore
from reelpoet.sdk.server.validation import (
    Upload,
    check_job,
    check_parameters,
    request_hash,
    store_uploads,
)

log = logging.getLogger("reelpoet.server")

# HTTP status of each error class (the first that matches); any other error is a 500.
_STATUS = (
    (UploadTooLargeError, 413),
    (AuthenticationError, 401),
    (NotFoundError, 404),
    (RateLimitedError, 429),
    (ResultExpiredError, 410),
    (InvalidRequestError, 422),
    (MediaError, 422),  # the upload is not usable media
)
_JOB_ID = re.compile(r"[0-9a-f]{32}")
_EVENT_POLL_S, _KEEPALIVE_S = 0.1, 1.0  # SSE: check the job this often; comment when quiet
UPLOADS_LOST = (
    "the server stopped (crashed or restarted) while the job was queued or running, and its "
    "uploads did not survive; submit it again"
)
GAVE_UP = (
    "the server stopped each of the {} times it started this job, so it is not run again; "
    "submit it again if it should be"
)


def error_response(exc: BaseException) -> JSONResponse:
    """Every error the API returns: `{"error": {"type", "message"}}` with its status."""
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 500)
    headers = {}
    if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
        headers["Retry-After"] = str(int(exc.retry_after))
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error_body(exc), status, headers=headers)


class Api:
    """The routes over one runner and store; built by create_app."""

    def __init__(self, config: ServerConfig, runner: JobRunner, store: JobStore) -> None:
        self.config, self.runner, self.store = config, runner, store

    # -- probes -----------------------------------------------------------------------------
    async def healthz(self, request: Request) -> JSONResponse:
        """The process answers (liveness)."""
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> JSONResponse:
        """Ready for work: the workers run and the queue has room (a load balancer should
        send new jobs elsewhere while this says 503)."""
        queued = self.store.count(states.QUEUED)
        body = {"queued": queued, "queue_size": self.config.queue_size}
        if not self.runner.alive():
            return JSONResponse({"status": "workers stopped", **body}, 503)
        if queued >= self.config.queue_size:
            return JSONResponse({"status": "queue full", **body}, 503)
        return JSONResponse({"status": "ready", **body})

    async def openapi(self, request: Request) -> JSONResponse:
        return JSONResponse(openapi_schema())

    # -- jobs -------------------------------------------------------------------------------
    @requires(JOBS_SCOPE, status_code=401)
    async def submit(self, request: Request) -> JSONResponse:
        key = request.headers.get("idempotency-key")
        if key is not None and not re.fullmatch(r"[\x21-\x7e]{1,128}", key):
            raise InvalidRequestError("Idempotency-Key must be 1 to 128 printable characters")
        async with _submission(request) as (task, params, uploads):
            check_parameters(task, params, uploads)
            owner = request.user.username
            job, created = await run_in_threadpool(self._prepare, owner, key, task, params, uploads)
        headers = {"Location": f"/v1/jobs/{job.id}"}
        return JSONResponse(self._status(job), 201 if created else 200, headers=headers)

    def _prepare(self, owner, key, task, params, uploads) -> tuple[Job, bool]:
        """Store and check the uploads, then admit the job; an idempotent replay returns the
        earlier job. Nothing is left on disk for a refused request."""
        digest = request_hash(task, params, uploads)
        if key is not None and (earlier := self.store.by_key(owner, key)) is not None:
            return _replayed(earlier, digest), False
        job = Job(uuid.uuid4().hex, owner, key, digest, task, params, {}, states.QUEUED)
        folder = self.runner.uploads / job.id
        try:
            job = job.with_uploads(store_uploads(uploads, folder))
            check_job(job, folder, self.config.max_array_bytes)
            admitted = self.runner.admit(job)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        if admitted.id != job.id:  # another submit with the key won the race
            shutil.rmtree(folder, ignore_errors=True)
            return _replayed(admitted, digest), False
        return admitted, True

    @requires(JOBS_SCOPE, status_code=401)
    async def status(self, request: Request) -> JSONResponse:
        return JSONResponse(self._status(self._job(request)))

    @requires(JOBS_SCOPE, status_code=401)
    async def cancel(self, request: Request) -> JSONResponse:
        """Cancel: a queued job at once, a running one at its next step (state stays running
        until then). Cancelling a finished job changes nothing."""
        job = self._job(request)
        self.runner.cancel(job.id)
        return JSONResponse(self._status(self.store.get(job.id)), 202)

    @requires(JOBS_SCOPE, status_code=401)
    async def result(self, request: Request) -> FileResponse:
        job = self._job(request)
        if job.state != states.SUCCEEDED:
            raise InvalidRequestError(f"job {job.id} is {job.state}: it has no result")
        if job.expired:
            hours = self.config.keep_results_hours
            raise ResultExpiredError(
                f"job {job.id}'s result was deleted {hours:g} hours after the job finished (the "
                "server's --keep-results-hours); run it again"
            )
        path = self.runner.result_path(job.id)
        return FileResponse(path, media_type="application/x-npz", filename=f"{job.id}.npz")

    @requires(JOBS_SCOPE, status_code=401)
    async def events(self, request: Request) -> StreamingResponse:
        """The job's status as an SSE `data:` line whenever it changes, a comment line when
        nothing did for a second (so clients and proxies see the stream is alive), ending
        after the job finishes."""
        job_id = self._job(request).id

        async def stream():
            last, quiet = None, 0.0
            while True:
                job = self.store.get(job_id)
                body = self._status(job)
                if body != last:
                    last, quiet = body, 0.0
                    yield f"data: {json.dumps(body)}\n\n"
                elif quiet >= _KEEPALIVE_S:
                    quiet = 0.0
                    yield ": keep-alive\n\n"
                if job.finished_state:
                    return
                await asyncio.sleep(_EVENT_POLL_S)
                quiet += _EVENT_POLL_S

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # proxies: stream
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    def _job(self, request: Request) -> Job:
        """The job the path names, if the caller's token submitted it (else a 404: another
        token's jobs are not even confirmed to exist)."""
        job_id = request.path_params["job_id"]
        job = self.store.get(job_id) if _JOB_ID.fullmatch(job_id) else None
        if job is None or job.owner != request.user.username:
            raise NotFoundError(f"no job {job_id!r} for this token")
        return job

    def _status(self, job: Job) -> dict:
        done, total = self.runner.progress(job.id) or (job.done, job.total)
        return {
            "id": job.id,
            "task": job.task,
            "state": job.state,
            "progress": {"done": done, "total": total},
            "error": job.error,
            "created": job.created,
            "started": job.started,
            "finished": job.finished,
            "result": (
                f"/v1/jobs/{job.id}/result"
                if job.state == states.SUCCEEDED and not job.expired
                else None
            ),
            "expired": bool(job.expired),
            "attempts": job.attempts,
        }


def _replayed(earlier: Job, digest: str) -> Job:
    if earlier.request_hash != digest:
        raise InvalidRequestError(
            "this Idempotency-Key was already used for a different request; use a new key "
            "for each distinct request"
        )
    return earlier


@contextlib.asynccontextmanager
async def _submission(request: Request):
    """(task, params, uploads) from a multipart form (uploads allowed) or a JSON body."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            raise InvalidRequestError(f"the body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise InvalidRequestError('the body is a JSON object: {"task": ..., "params": {...}}')
        yield _task(body.get("task")), _params(body.get("params", {})), {}
        return
    if kind != "multipart/form-data":
        raise InvalidRequestError("send multipart/form-data (with uploads) or application/json")
    limits = {"max_files": len(MEDIA_ARGUMENTS), "max_fields": 2}
    async with request.form(**limits) as form:
        uploads = {
            name: Upload(_plain_name(value.filename), value.file)
            for name, value in form.multi_items()
            if isinstance(value, UploadFile)
        }
        params = form.get("params", "{}")
        if isinstance(params, UploadFile):
            params = (await params.read()).decode("utf-8", "replace")
        uploads.pop("params", None)
        try:
            parsed = json.loads(params)
        except ValueError as exc:
            raise InvalidRequestError(f"params is not JSON: {exc}") from exc
        yield _task(form.get("task")), _params(parsed), uploads


def _plain_name(filename: str | None) -> str:
    """An upload's file name, refused when it is a path: it is never used as one (uploads are
    stored under names of our own), but a client sending `../x` is confused or probing."""
    name = filename or ""
    if any(c in name for c in "/\\\0") or name in (".", ".."):
        raise InvalidRequestError(f"upload file names are plain names, not paths: {name!r}")
    return name


def _task(task) -> str:
    if not isinstance(task, str) or not task:
        raise InvalidRequestError("name the task: a 'task' field such as text_to_video")
    return task


def _params(params) -> dict:
    if not isinstance(params, dict):
        raise InvalidRequestError("params is a JSON object of the task's arguments")
    return params


def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    kinds = {401: AuthenticationError, 404: NotFoundError}
    cls = kinds.get(exc.status_code, InvalidRequestError if exc.status_code < 500 else ServerError)
    response = error_response(cls(exc.detail))
    response.status_code = exc.status_code  # e.g. 405 stays 405
    return response


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(ServerError(f"the server failed ({type(exc).__name__})"))


def open_data_dir(data_dir: Path) -> tuple[JobStore, list[str]]:
    """The store under `data_dir`, recovered after a stop or crash, and the jobs to run again.

    Jobs left queued or running are queued again when their uploads are all there and they
    have been started fewer than MAX_ATTEMPTS times; the others are marked interrupted.
    Half-written results and uploads of no job to run are removed."""
    (data_dir / "results").mkdir(parents=True, exist_ok=True)
    (data_dir / "uploads").mkdir(exist_ok=True)
    for partial in (data_dir / "results").glob(".*.partial*"):
        partial.unlink()
    store = JobStore(data_dir / "jobs.sqlite3")
    resumed, interrupted = [], 0
    for job in store.unfinished():
        folder = data_dir / "uploads" / job.id
        if job.attempts >= states.MAX_ATTEMPTS:
            interrupted += store.interrupt(job.id, GAVE_UP.format(job.attempts))
        elif not all((folder / name).is_file() for name in job.uploads.values()):
            interrupted += store.interrupt(job.id, UPLOADS_LOST)
        elif store.requeue(job.id):
            resumed.append(job.id)
    for result in (data_dir / "results").glob("*.npz"):  # a sweep cut short by a crash
        job = store.get(result.stem)
        if job is not None and job.expired:
            result.unlink()
    for folder in (data_dir / "uploads").iterdir():
        if folder.name not in resumed:  # a refused submit's, or a finished job's
            shutil.rmtree(folder, ignore_errors=True)
    if resumed or interrupted:
        log.warning(
            "unfinished when the server last stopped: %d job(s) queued again, %d interrupted",
            len(resumed),
            interrupted,
        )
    return store, resumed


def create_app(config: ServerConfig, client: Client) -> Starlette:
    store, unfinished = open_data_dir(config.data_dir)
    runner = JobRunner(
        client,
        store,
        config.data_dir,
        config.workers,
        config.queue_size,
        config.per_token_jobs,
        config.keep_results_hours,
    )
    runner.resume(unfinished)
    api = Api(config, runner, store)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        runner.start()
        yield
        await run_in_threadpool(runner.stop)
        store.close()

    job = "/v1/jobs/{job_id}"
    routes = [
        Route("/healthz", api.healthz),
        Route("/readyz", api.readyz),
        Route("/openapi.json", api.openapi),
        Route("/v1/jobs", api.submit, methods=["POST"]),
        Route(job, api.status, methods=["GET"]),
        Route(job, api.cancel, methods=["DELETE"]),
        Route(f"{job}/result", api.result),
        Route(f"{job}/events", api.events),
    ]
    middleware = [
        Middleware(BodyLimit, max_bytes=config.max_upload_bytes, refuse=error_response),
        Middleware(
            AuthenticationMiddleware,
            backend=BearerTokens(config.tokens, config.auth),
            on_error=lambda conn, exc: error_response(AuthenticationError(str(exc))),
        ),
    ]
    handlers = {ReelpoetError: lambda r, e: error_response(e), HTTPException: _http_error}
    handlers[Exception] = _unexpected
    return Starlette(
        routes=routes, middleware=middleware, exception_handlers=handlers, lifespan=lifespan
    )


def serve(config: ServerConfig) -> None:
    """Load and verify the bundle, then serve until interrupted (Ctrl-C or SIGTERM)."""
    import uvicorn

    started = time.perf_counter()
    client = Client.local(config.bundle, config.threads)
    app = create_app(config, client)
    auth = f"auth on ({len(config.tokens)} token(s))" if config.auth else "auth OFF (loopback)"
    log.warning(
        "reelpoet serve: bundle %s loaded in %.1f s; %d worker(s), queue %d, %s, data in %s",
        client.pipeline.bundle_id,
        time.perf_counter() - started,
        config.workers,
        config.queue_size,
        auth,
        config.data_dir,
    )
    uvicorn.run(app, host=config.host, port=config.port, timeout_graceful_shutdown=5)
