"""Running jobs: admission to a bounded queue, worker threads that call the Client, progress,
cancellation, and results written atomically.

Workers share one Client: its pipeline keeps no per-call state and onnxruntime sessions may run
from several threads at once, so N workers cost one copy of the weights.
"""

from __future__ import annotations

import logging
import math
import queue
import shutil
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from reelpoet.sdk.atomic_file import atomic_output
from reelpoet.sdk.client import Client
from reelpoet.sdk.errors import CancelledError, RateLimitedError, ReelpoetError, ServerError
from reelpoet.sdk.server import store as states
from reelpoet.sdk.server.protocol import encode_result, error_body, task_arguments
from reelpoet.sdk.server.store import Job, JobStore
from reelpoet.sdk.server.validation import job_arguments

log = logging.getLogger("reelpoet.server")


@dataclass
class Progress:
    """A running job's progress (written by its worker, read by the routes) and its cancel flag."""

    done: int = 0
    total: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)


class JobRunner:
    def __init__(
        self,
        client: Client,
        store: JobStore,
        data_dir: Path,
        workers: int,
        queue_size: int,
        per_token_jobs: int,
        keep_results_hours: float = 0.0,
    ) -> None:
        self.client, self.store, self.data_dir = client, store, data_dir
        self.keep_results_s = keep_results_hours * 3600.0
        self.workers, self.queue_size, self.per_token_jobs = workers, queue_size, per_token_jobs
        self.results = data_dir / "results"
        self.uploads = data_dir / "uploads"
        self._queue: queue.Queue[str | None] = queue.Queue()  # bounded by admit(), not here
        self._admit = threading.Lock()
        self._live: dict[str, Progress] = {}
        self._durations: deque[float] = deque(maxlen=20)  # recent job times, for Retry-After
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        for n in range(self.workers):
            # daemon: a stuck job never keeps the process alive; what it left unfinished is
            # queued again at the next start
            thread = threading.Thread(target=self._work, name=f"reelpoet-job-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.keep_results_s > 0:
            sweeper = threading.Thread(target=self._sweep, name="reelpoet-results", daemon=True)
            sweeper.start()

    def resume(self, job_ids: list[str]) -> None:
        """Queue jobs a previous run of the server left unfinished (app.open_data_dir chose
        them), ahead of new ones."""
        for job_id in job_ids:
            self._live[job_id] = Progress()
            self._queue.put(job_id)

    def stop(self, wait_s: float = 5.0) -> None:
        """Take running jobs off their workers and stop. Unfinished jobs stay queued, with
        their uploads, and run again at the next start."""
        self._stopping.set()
        for live in list(self._live.values()):
            live.cancel.set()
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + wait_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def alive(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    # -- admission ----------------------------------------------------------------------------
    def admit(self, job: Job) -> Job:
        """Queue a new job, or raise RateLimitedError (with a Retry-After estimate) when the
        queue or the job's token is at its limit. Returns the stored job: an earlier one when
        the idempotency key was already used."""
        with self._admit:  # the counts and the insert must not interleave with another submit
            if job.idempotency_key is not None:
                earlier = self.store.by_key(job.owner, job.idempotency_key)
                if earlier is not None:
                    return earlier
            mine = sum(self.store.count(s, job.owner) for s in states.UNFINISHED)
            if mine >= self.per_token_jobs:
                raise RateLimitedError(
                    f"this token has {mine} unfinished jobs, the most it may have; wait for one "
                    "to finish",
                    self.retry_after(),
                )
            if self.store.count(states.QUEUED) >= self.queue_size:
                raise RateLimitedError(
                    f"the queue is full ({self.queue_size} jobs waiting); try again later",
                    self.retry_after(),
                )
            stored = self.store.add(job)
            self._live[stored.id] = Progress()
            self._queue.put(stored.id)
            return stored

    def retry_after(self) -> int:
        """Seconds until a queue slot is likely free: the queue's length in recent job times."""
        typical = sum(self._durations) / len(self._durations) if self._durations else 5.0
        waiting = self.store.count(states.QUEUED)
        return max(1, min(300, math.ceil(typical * (waiting + 1) / self.workers)))

    def progress(self, job_id: str) -> tuple[int, int] | None:
        live = self._live.get(job_id)
        return None if live is None else (live.done, live.total)

    def cancel(self, job_id: str) -> None:
        """Cancel a queued job at once, a running one at its next generation step (its worker
        then records it cancelled, so a job is never shown cancelled while it still runs)."""
        live = self._live.get(job_id)
        if live is not None:
            live.cancel.set()
        error = error_body(CancelledError("cancelled before it started"))["error"]
        self.store.set_state(job_id, states.CANCELLED, error, only_from=(states.QUEUED,))

    def result_path(self, job_id: str) -> Path:
        return self.results / f"{job_id}.npz"

    def expire_results(self) -> int:
        """Delete the results of jobs that finished more than the keep time ago (marked expired
        first, so a crash between the two leaves a stray file, never a job without its
        result); returns how many."""
        expired = self.store.expire_results(time.time() - self.keep_results_s)
        for job_id in expired:
            self.result_path(job_id).unlink(missing_ok=True)
        if expired:
            log.info(
                "deleted %d result(s) kept longer than %.4g h",
                len(expired),
                self.keep_results_s / 3600,
            )
        return len(expired)

    def _sweep(self) -> None:
        # A tenth of the keep time between sweeps (at most 10 minutes, at least a second):
        # a result outlives its keep time by at most that.
        interval = min(600.0, max(1.0, self.keep_results_s / 10))
        while True:
            self.expire_results()
            if self._stopping.wait(interval):
                return

    # -- work ---------------------------------------------------------------------------------
    def _work(self) -> None:
        while (job_id := self._queue.get()) is not None:
            if self._stopping.is_set():
                break  # queued jobs wait for the next start
            try:
                self._run(job_id)
            finally:
                self._live.pop(job_id, None)
                job = self.store.get(job_id)
                if job is None or job.finished_state:  # a requeued job keeps its uploads
                    shutil.rmtree(self.uploads / job_id, ignore_errors=True)

    def _run(self, job_id: str) -> None:
        live = self._live[job_id]
        if not self.store.set_state(job_id, states.RUNNING):
            return  # cancelled while it waited
        job = self.store.get(job_id)
        started = time.monotonic()
        state, error = states.SUCCEEDED, None
        try:
            result = self._call(job, live)
            with atomic_output(self.result_path(job_id)) as tmp:
                tmp.write_bytes(encode_result(result))
        except CancelledError as exc:
            if self._stopping.is_set():  # not the user's cancel: the server is stopping
                self.store.requeue(job_id, count_attempt=False)
                return
            state, error = states.CANCELLED, exc
        except ReelpoetError as exc:
            state, error = states.FAILED, exc
        except Exception as exc:  # a bug of ours: logged in full, reported without internals
            log.exception("job %s (%s) failed", job_id, job.task)
            state = states.FAILED
            error = ServerError(f"the server failed running the job ({type(exc).__name__})")
        body = None if error is None else error_body(error)["error"]
        self.store.set_state(job_id, state, body, progress=(live.done, live.total))
        self._durations.append(time.monotonic() - started)

    def _call(self, job: Job, live: Progress):
        """The job's Client method, with its progress and cancel flag wired to `live`."""

        def progress(done: int, total: int) -> None:
            live.done, live.total = done, total

        arguments = job_arguments(job, self.uploads / job.id)
        callbacks = {"cancelled": live.cancel.is_set}
        if task_arguments(job.task)[1]:  # rate takes no progress callback
            callbacks["progress"] = progress
        return getattr(self.client, job.task)(**arguments, **callbacks)
