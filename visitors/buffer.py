"""Beacon events are answered at once and written a moment later, many requests' events in one transaction.

A web process keeps the events it accepted in memory and a thread of its own writes them every
PIXEL_BUFFER_MS (sooner when PIXEL_BUFFER_EVENTS have gathered) through `services.events_record`. One write
for hundreds of requests is what lets `POST /p/collect` answer at close to the speed of a static file
(bench/pixel.py). The price: events of the last fraction of a second are lost if the process is killed
outright; a normal shutdown (gunicorn's worker exit) writes them first. When more arrives than the writer
stores, requests help write before they are answered (an overload slows answers, it does not lose events);
only while the database refuses writes are events beyond PIXEL_BUFFER_MAX_EVENTS dropped, and logged. With
PIXEL_BUFFER_MS = 0 every request writes its own events before it is answered.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection

from . import services

logger = logging.getLogger("cursive.visitors")

# One write's most events: a transaction of a few seconds at most, however far behind the writer is.
FLUSH_MOST = 20_000


class EventBuffer:
    def __init__(self):
        self._events: list[tuple[int, dict]] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._owner_pid: int | None = None
        self._writer: threading.Thread | None = None
        self._stop = threading.Event()
        self.dropped = 0

    def add(self, events: list[tuple[int, dict]]) -> None:
        if settings.PIXEL_BUFFER_MS <= 0:
            services.events_record(events=events)
            return
        with self._lock:
            self._events.extend(events)
            pending = len(self._events)
        self._ensure_writer()
        if pending >= settings.PIXEL_BUFFER_MAX_EVENTS:
            # More arrives than the writer stores: this request helps write before it is answered, so an
            # overload slows answers down instead of growing memory or losing events.
            self.flush()
        elif pending >= settings.PIXEL_BUFFER_EVENTS:
            self._wake.set()

    def flush(self) -> int:
        """Write what has gathered; returns how many events were stored. Events a failed write could not store
        go back to the front of the buffer for the next try."""
        with self._flushing:
            with self._lock:
                events = self._events[:FLUSH_MOST]
                del self._events[:FLUSH_MOST]
            if not events:
                return 0
            try:
                return services.events_record(events=events)
            except Exception:
                logger.exception("pixel events not written; kept for the next try", extra={"events": len(events)})
                with self._lock:
                    # The database is down: keep up to the limit, oldest first, and count what does not fit.
                    kept = (events + self._events)[: settings.PIXEL_BUFFER_MAX_EVENTS]
                    self.dropped += len(events) + len(self._events) - len(kept)
                    self._events = kept
                return 0

    def _ensure_writer(self) -> None:
        # A forked worker inherits the object but not the thread: each process starts its own writer.
        if self._owner_pid == os.getpid():
            return
        with self._lock:
            if self._owner_pid == os.getpid():
                return
            self._owner_pid = os.getpid()
        self._writer = threading.Thread(target=self._write_until_stopped, name="pixel-event-writer", daemon=True)
        self._writer.start()
        atexit.register(self.stop)

    def stop(self) -> None:
        """Write what is left and end the writer thread (at exit, and in tests)."""
        self._stop.set()
        self._wake.set()
        if self._writer is not None and self._writer is not threading.current_thread():
            self._writer.join(timeout=10)
        self.flush()

    def _write_until_stopped(self) -> None:
        interval = settings.PIXEL_BUFFER_MS / 1000
        try:
            self._write(interval)
        finally:
            connection.close()

    def _write(self, interval: float) -> None:
        while not self._stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            started = time.monotonic()
            close_old_connections()
            while self.flush() >= FLUSH_MOST:
                pass
            if self.dropped:
                logger.warning(
                    "pixel events dropped: the database refused them and the buffer is full", extra={"events": self.dropped}
                )
                self.dropped = 0
            # Under a flood the threshold wakes the writer constantly: a short rest makes each write bigger.
            self._stop.wait(max(0.0, interval / 4 - (time.monotonic() - started)))


events = EventBuffer()
