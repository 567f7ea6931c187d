"""What a server start makes of the data folder a stop or crash left (sdk/server/app.py
`open_data_dir`): which unfinished jobs run again, which are given up, what is cleaned."""

from __future__ import annotations

import sqlite3
import time

from reelpoet.sdk.server import store as states
from reelpoet.sdk.server.app import open_data_dir
from reelpoet.sdk.server.store import Job, JobStore


def _job(job_id: str, uploads: dict | None = None, state: str = states.QUEUED) -> Job:
    return Job(job_id, "owner", None, "hash", "extend", {"seconds": 1}, uploads or {}, state)


def _left_by_a_crash(data, jobs: list[Job], starts: dict[str, int]) -> None:
    """A data folder as a killed server leaves it: rows unfinished, `starts` starts each."""
    (data / "uploads").mkdir(parents=True)
    store = JobStore(data / "jobs.sqlite3")
    for job in jobs:
        store.add(job)
        for _ in range(starts.get(job.id, 0)):
            store.set_state(job.id, states.RUNNING)
    store.close()


def test_unfinished_jobs_with_their_uploads_run_again(tmp_path):
    data = tmp_path / "data"
    jobs = [_job("a" * 32, {"source": "source.mp4"}), _job("b" * 32), _job("c" * 32)]
    _left_by_a_crash(data, jobs, starts={"a" * 32: 1})
    (data / "uploads" / ("a" * 32)).mkdir()
    (data / "uploads" / ("a" * 32) / "source.mp4").write_bytes(b"media")
    (data / "uploads" / ("d" * 32)).mkdir()  # a refused submit's leftovers
    (data / "results").mkdir()
    (data / "results" / f".{'b' * 32}.npz.partial-1").write_bytes(b"half")

    store, resumed = open_data_dir(data)
    assert resumed == ["a" * 32, "b" * 32, "c" * 32]  # oldest first
    assert all(store.get(job_id).state == states.QUEUED for job_id in resumed)
    assert store.get("a" * 32).attempts == 1  # counted: the crash came while it ran
    assert (data / "uploads" / ("a" * 32) / "source.mp4").read_bytes() == b"media"
    assert not (data / "uploads" / ("d" * 32)).exists()
    assert not list((data / "results").iterdir())


def test_jobs_without_their_uploads_or_started_too_often_are_given_up(tmp_path):
    data = tmp_path / "data"
    lost, poison = _job("a" * 32, {"source": "source.mp4"}), _job("b" * 32)
    _left_by_a_crash(data, [lost, poison], starts={"b" * 32: states.MAX_ATTEMPTS})
    store, resumed = open_data_dir(data)
    assert resumed == []
    for job_id, words in (("a" * 32, "uploads did not survive"), ("b" * 32, "3 times")):
        job = store.get(job_id)
        assert job.state == states.INTERRUPTED and job.finished is not None
        assert job.error["type"] == "JobInterruptedError" and words in job.error["message"]


def test_a_graceful_stop_does_not_count_as_an_attempt(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    store.add(_job("a" * 32))
    store.set_state("a" * 32, states.RUNNING)
    assert store.get("a" * 32).attempts == 1
    assert store.requeue("a" * 32, count_attempt=False)
    assert (store.get("a" * 32).state, store.get("a" * 32).attempts) == (states.QUEUED, 0)
    store.set_state("a" * 32, states.SUCCEEDED)
    assert not store.requeue("a" * 32)  # a finished job never goes back


def test_a_data_folder_from_before_attempts_were_counted_opens(tmp_path):
    data = tmp_path / "data"
    (data / "uploads").mkdir(parents=True)
    db = sqlite3.connect(data / "jobs.sqlite3")
    db.execute(
        "CREATE TABLE jobs (id TEXT PRIMARY KEY, owner TEXT NOT NULL, idempotency_key TEXT, "
        "request_hash TEXT NOT NULL, task TEXT NOT NULL, params TEXT NOT NULL, uploads TEXT "
        "NOT NULL, state TEXT NOT NULL, error TEXT, created REAL NOT NULL, started REAL, "
        "finished REAL, done INTEGER NOT NULL DEFAULT 0, total INTEGER NOT NULL DEFAULT 0, "
        "UNIQUE (owner, idempotency_key))"
    )
    db.execute(
        "INSERT INTO jobs (id, owner, request_hash, task, params, uploads, state, created) "
        "VALUES (?, 'owner', 'hash', 'extend', '{}', '{}', 'running', ?)",
        ("a" * 32, time.time()),
    )
    db.commit()
    db.close()
    store, resumed = open_data_dir(data)
    assert resumed == ["a" * 32] and store.get("a" * 32).attempts == 0


def test_only_old_succeeded_results_expire(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    for job_id, state in (("a" * 32, states.SUCCEEDED), ("b" * 32, states.FAILED)):
        store.add(_job(job_id))
        store.set_state(job_id, state)
    store.add(_job("c" * 32))  # still queued
    assert store.expire_results(finished_before=time.time() - 3600) == []  # all too recent
    assert store.expire_results(finished_before=time.time() + 1) == ["a" * 32]
    assert store.get("a" * 32).expired == 1 and store.get("b" * 32).expired == 0
    assert store.expire_results(finished_before=time.time() + 1) == []  # once


def test_a_negative_keep_time_is_refused():
    import pytest

    from reelpoet.sdk.errors import InvalidRequestError
    from reelpoet.sdk.server.config import ServerConfig

    with pytest.raises(InvalidRequestError, match="keep_results_hours"):
        ServerConfig(auth=False, keep_results_hours=-1)
    assert ServerConfig(auth=False, keep_results_hours=0).keep_results_hours == 0  # keep all
