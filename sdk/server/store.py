"""The job store: one SQLite table under the data folder, so jobs outlive the process.

A job's row is written when it is accepted and on every change of state; progress lives in
memory (runner.py), since it is only worth having while the job runs. Results are files beside
the database (written atomically, see runner.py), so a finished job's row and its result survive
a crash. A row left `queued` or `running` by a crash or a stop is queued again at the next start
(app.open_data_dir), unless its uploads are gone or it has been started `MAX_ATTEMPTS` times
already (a job that crashes the server must not crash it for ever): those are `interrupted`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

QUEUED, RUNNING = "queued", "running"
SUCCEEDED, FAILED, CANCELLED, INTERRUPTED = "succeeded", "failed", "cancelled", "interrupted"
UNFINISHED = (QUEUED, RUNNING)
MAX_ATTEMPTS = 3  # starts of one job, across restarts

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,             -- sha256 prefix of the token that submitted it
    idempotency_key TEXT,            -- the client's Idempotency-Key header, if it sent one
    request_hash TEXT NOT NULL,      -- sha256 of the task, parameters and uploads
    task TEXT NOT NULL,
    params TEXT NOT NULL,            -- JSON: the arguments that are not uploads
    uploads TEXT NOT NULL,           -- JSON: argument name -> how it was sent ("file" / "npz")
    state TEXT NOT NULL,
    error TEXT,                      -- JSON {"type", "message"} when failed or interrupted
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    done INTEGER NOT NULL DEFAULT 0,   -- progress when it finished (live progress: runner.py)
    total INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0, -- times a worker started it (restarts resume jobs)
    expired INTEGER NOT NULL DEFAULT 0,  -- 1: succeeded, result deleted after its keep time
    UNIQUE (owner, idempotency_key)
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, owner);
"""


@dataclass(frozen=True)
class Job:
    id: str
    owner: str
    idempotency_key: str | None
    request_hash: str
    task: str
    params: dict
    uploads: dict
    state: str
    error: dict | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    done: int = 0
    total: int = 0
    attempts: int = 0
    expired: int = 0

    def with_uploads(self, uploads: dict) -> Job:
        return replace(self, uploads=uploads)

    @property
    def finished_state(self) -> bool:
        return self.state not in UNFINISHED


class JobStore:
    """Thread-safe access to the jobs table (one connection behind a lock: every statement is
    small, and SQLite serialises writers anyway)."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            # WAL: readers never wait for the writer; the default FULL sync keeps commits durable.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
            for column in ("attempts", "expired"):  # data folders of earlier versions
                if column not in columns:
                    self._db.execute(
                        f"ALTER TABLE jobs ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0"
                    )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def unfinished(self) -> list[Job]:
        """Jobs queued or running, oldest first (at start-up: what a stop or crash left)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM jobs WHERE state IN (?, ?) ORDER BY created", UNFINISHED
            ).fetchall()
        return [self.get(row[0]) for row in rows]

    def expire_results(self, finished_before: float) -> list[str]:
        """Mark succeeded jobs that finished before `finished_before` as expired; return their
        ids (their result files are the caller's to delete, after this mark)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM jobs WHERE state = ? AND expired = 0 AND finished < ?",
                (SUCCEEDED, finished_before),
            ).fetchall()
            ids = [row[0] for row in rows]
            self._db.executemany("UPDATE jobs SET expired = 1 WHERE id = ?", [(i,) for i in ids])
        return ids

    def interrupt(self, job_id: str, message: str) -> bool:
        """Give up on an unfinished job: `interrupted`, with why."""
        error = {"type": "JobInterruptedError", "message": message}
        return self.set_state(job_id, INTERRUPTED, error)

    def requeue(self, job_id: str, count_attempt: bool = True) -> bool:
        """Put an unfinished job back in the queue. `count_attempt=False` for a job a graceful
        stop took off its worker: that start does not count towards MAX_ATTEMPTS."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE jobs SET state = ?, attempts = attempts - ? WHERE id = ? AND state IN "
                "(?, ?)",
                (QUEUED, 0 if count_attempt else 1, job_id, *UNFINISHED),
            )
            return cursor.rowcount == 1

    def add(self, job: Job) -> Job:
        """Insert a new job; if its owner already used its idempotency key, the earlier job is
        returned instead (the UNIQUE constraint settles two racing submits)."""
        row = (
            job.id,
            job.owner,
            job.idempotency_key,
            job.request_hash,
            job.task,
            json.dumps(job.params),
            json.dumps(job.uploads),
            job.state,
            None,
            job.created,
        )
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO jobs (id, owner, idempotency_key, request_hash, task, params, "
                    "uploads, state, error, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                return job
            except sqlite3.IntegrityError:
                if job.idempotency_key is None:
                    raise
        return self.by_key(job.owner, job.idempotency_key)

    def get(self, job_id: str) -> Job | None:
        return self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))

    def by_key(self, owner: str, key: str) -> Job | None:
        return self._one("SELECT * FROM jobs WHERE owner = ? AND idempotency_key = ?", (owner, key))

    def count(self, state: str, owner: str | None = None) -> int:
        query, args = "SELECT COUNT(*) FROM jobs WHERE state = ?", [state]
        if owner is not None:
            query, args = query + " AND owner = ?", [*args, owner]
        with self._lock:
            return self._db.execute(query, args).fetchone()[0]

    def set_state(
        self,
        job_id: str,
        state: str,
        error: dict | None = None,
        only_from: tuple[str, ...] = UNFINISHED,
        progress: tuple[int | None, int | None] = (None, None),
    ) -> bool:
        """Move a job in one of the `only_from` states to `state`; False when it was in none
        (a job cancelled while queued is never started, a finished one never changes)."""
        now = time.time()
        started = now if state == RUNNING else None
        finished = None if state in UNFINISHED else now
        marks = ", ".join("?" * len(only_from))
        with self._lock:
            cursor = self._db.execute(
                "UPDATE jobs SET state = ?, error = ?, started = COALESCE(?, started), "
                "finished = ?, done = COALESCE(?, done), total = COALESCE(?, total), "
                f"attempts = attempts + ? WHERE id = ? AND state IN ({marks})",
                (
                    state,
                    error and json.dumps(error),
                    started,
                    finished,
                    *progress,
                    1 if state == RUNNING else 0,
                    job_id,
                    *only_from,
                ),
            )
            return cursor.rowcount == 1

    def _one(self, query: str, args: tuple) -> Job | None:
        with self._lock:
            row = self._db.execute(query, args).fetchone()
        if row is None:
            return None
        fields = dict(row)
        for name in ("params", "uploads", "error"):
            fields[name] = fields[name] and json.loads(fields[name])
        return Job(**fields)
