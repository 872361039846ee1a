"""Background work: periodic jobs and queue consumers, run inside `serve` or by `fedipoly worker`.

Each job is a coroutine function that does one unit of work and returns whether it found any;
the pool sleeps for the poll interval when a job finds nothing. On shutdown the pool stops
starting new units and waits for the running ones to finish (work claimed with a lease is
released by expiry if a process dies instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

JobStep = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class Job:
    name: str
    step: JobStep
    idle_seconds: float


class WorkerPool:
    def __init__(self) -> None:
        self._jobs: list[Job] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    def add(self, name: str, step: JobStep, *, idle_seconds: float) -> None:
        self._jobs.append(Job(name=name, step=step, idle_seconds=idle_seconds))

    @property
    def job_names(self) -> list[str]:
        return [job.name for job in self._jobs]

    def start(self) -> None:
        self._stopping.clear()
        self._tasks = [asyncio.create_task(self._run(job), name=job.name) for job in self._jobs]

    async def stop(self, timeout: float = 10.0) -> None:
        """Let running units finish (up to `timeout`), then cancel what is left."""
        self._stopping.set()
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(self._tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _run(self, job: Job) -> None:
        while not self._stopping.is_set():
            try:
                found_work = await job.step()
            except Exception:
                log.exception("job %s failed; retrying after a pause", job.name)
                found_work = False
            if not found_work:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=job.idle_seconds)
