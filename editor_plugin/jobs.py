"""Running a slow call off the UI thread, with progress and cancel (Qt).

``JobRunner.start(work)`` runs ``work(progress, cancelled)`` on a worker thread; ``progress``
and ``cancelled`` are what the Client's methods take. Its signals arrive on the UI thread:
``progress(done, total)``, then ``finished(result)`` or ``failed(exception)`` (a
``CancelledError`` when cancelled).
"""

from __future__ import annotations

import threading

from PyQt6.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal


class _Signals(QObject):
    # Made on the UI thread and emitted from the worker: Qt queues each emission to the
    # receiver's (UI) thread, so slots never run on the worker.
    progress = pyqtSignal(int, int)
    finished = pyqtSignal(object)
    failed = pyqtSignal(object)


class _Run(QRunnable):
    def __init__(self, work, signals: _Signals, cancel: threading.Event) -> None:
        super().__init__()
        self.work, self.signals, self.cancel = work, signals, cancel

    def run(self) -> None:
        try:
            out = self.work(self.signals.progress.emit, self.cancel.is_set)
        except BaseException as exc:  # reported, never raised into Qt's thread pool
            self.signals.failed.emit(exc)
        else:
            self.signals.finished.emit(out)


class JobRunner(QObject):
    """One job at a time (a second ``start`` while running raises RuntimeError)."""

    progress = pyqtSignal(int, int)
    finished = pyqtSignal(object)
    failed = pyqtSignal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._cancel = threading.Event()
        self._signals: _Signals | None = None

    @property
    def running(self) -> bool:
        return self._signals is not None

    def start(self, work) -> None:
        if self.running:
            raise RuntimeError("a job is already running; cancel it or wait")
        self._cancel = threading.Event()
        self._signals = _Signals()
        self._signals.progress.connect(self.progress)
        self._signals.finished.connect(lambda out: self._done(self.finished, out))
        self._signals.failed.connect(lambda exc: self._done(self.failed, exc))
        self._pool.start(_Run(work, self._signals, self._cancel))

    def cancel(self) -> None:
        """Ask the job to stop at its next check (the Client checks between steps)."""
        self._cancel.set()

    def wait(self, msecs: int = -1) -> bool:
        return self._pool.waitForDone(msecs)

    def _done(self, signal, value) -> None:
        self._signals = None
        signal.emit(value)
