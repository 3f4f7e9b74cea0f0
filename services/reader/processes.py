"""Reading processes the stage can kill: PDFium's rendering time is bounded by nothing inside
the process, so each fax is read in a child process, and one that runs past its time is killed
and replaced. One OCR thread per process (OMP_THREAD_LIMIT, set before tesserocr loads)."""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from services.reader.logic import Failure, FaxText
from services.reader.ocr import OcrOptions, PageReader
from services.reader.pages import Limits, UnreadableFax
from shared.contracts import ReadFailureReason

_state: list[tuple[Limits, PageReader]] = []  # the child's own: its limits and its engine


def _start(limits: Limits, options: OcrOptions) -> None:
    _state.append((limits, PageReader(options)))
    threading.Thread(target=_exit_with_parent, daemon=True).start()


def _exit_with_parent() -> None:
    """A reader killed outright (kill -9) leaves no reading process behind, even mid-render."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)


def _ready() -> bool:
    return bool(_state)


def _read(data: bytes) -> FaxText | Failure:
    """In the child: the fax's text, or why not (UnreadableFax does not pickle, its reason
    does). Anything else a library raises on a malformed file is a corrupt fax."""
    from services.reader.logic import read_fax

    limits, reader = _state[0]
    try:
        return read_fax(data, limits, reader)
    except UnreadableFax as error:
        return Failure(error.reason, str(error)[:500])
    except (MemoryError, Exception) as error:
        return Failure(ReadFailureReason.CORRUPT, f"the reader failed: {type(error).__name__}")


class Readers:
    """`processes` reading processes, each used by one fax at a time."""

    def __init__(self, processes: int, limits: Limits, options: OcrOptions) -> None:
        self.limits, self.options = limits, options
        self._context = multiprocessing.get_context("spawn")  # no copy of the loop's threads
        self._free: asyncio.Queue[ProcessPoolExecutor] = asyncio.Queue()
        for _ in range(processes):
            self._free.put_nowait(self._new())

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            1, mp_context=self._context, initializer=_start, initargs=(self.limits, self.options)
        )

    async def read(self, data: bytes, timeout_s: float) -> FaxText | Failure:
        pool = await self._free.get()
        try:
            future = asyncio.get_running_loop().run_in_executor(pool, _read, data)
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            pool = self._replace(pool)
            return Failure(ReadFailureReason.FAX_TIMEOUT, f"reading took more than {timeout_s} s")
        except BrokenProcessPool:
            pool = self._replace(pool)
            return Failure(ReadFailureReason.READER_CRASHED, "the reading process died")
        except asyncio.CancelledError:  # the partition was taken away: free the process now
            pool = self._replace(pool)
            raise
        finally:
            self._free.put_nowait(pool)

    async def warm(self) -> None:
        """Start every reading process and load its models now, not at the first fax."""
        loop = asyncio.get_running_loop()
        pools = [self._free.get_nowait() for _ in range(self._free.qsize())]
        try:
            await asyncio.gather(*(loop.run_in_executor(pool, _ready) for pool in pools))
        finally:
            for pool in pools:
                self._free.put_nowait(pool)

    def _replace(self, pool: ProcessPoolExecutor) -> ProcessPoolExecutor:
        kill(pool)
        return self._new()

    def close(self) -> None:
        while not self._free.empty():
            kill(self._free.get_nowait())


def kill(pool: ProcessPoolExecutor) -> None:
    """SIGKILL the pool's process (a render may never return) and let the pool go."""
    for process in list((pool._processes or {}).values()):
        process.kill()
    pool.shutdown(wait=False, cancel_futures=True)
