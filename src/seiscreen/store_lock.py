"""One writer per store folder: ``store_lock``, an ``fcntl.flock`` on ``<store>/seiscreen.lock`` that names its
holder, freed by the kernel when the holder dies."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from seiscreen.errors import SeiscreenError
from seiscreen.store_export import EXPORT_SUFFIXES
from seiscreen.store_open import resolve_location, store_folder

LOCK_FILE = "seiscreen.lock"  # in a store folder: JSON {pid, host, since} of the process writing it, else empty
_held: dict[str, IO[str]] = {}  # lock files this process holds


@contextlib.contextmanager
def store_lock(location: str | os.PathLike | None = None, wait: bool = False,
               say: Callable[[str], object] | None = None) -> Iterator[None]:
    """Hold the writer lock of the store folder at ``location`` (made when new) while the block runs.

    One process writes a store at a time: a second fails with one line naming the holder ("store in use by PID N
    on HOST since T"), or with ``wait`` says so and waits for it. The lock is ``fcntl.flock`` on
    ``<store>/seiscreen.lock``, which the kernel frees when its holder dies; a lock file still naming a holder is
    one left by a process that stopped without releasing it, taken over with a message. Re-entrant within one
    process. MongoDB stores and results files have no folder to lock: the block runs unlocked.

    Args:
        location: as :func:`resolve_location` takes it.
        wait: wait for another holder instead of failing.
        say: where the messages go (waiting, taking over); default: stderr.
    """
    location = resolve_location(location)
    if "://" in location or location.endswith(EXPORT_SUFFIXES):
        yield
        return
    path = store_folder(location) / LOCK_FILE
    if str(path) in _held:  # taken by this process already (a run's own helpers)
        yield
        return
    handle = _take_lock(path, wait, say or (lambda message: print(message, file=sys.stderr)))
    _held[str(path)] = handle
    try:
        yield
    finally:
        del _held[str(path)]
        handle.truncate(0)  # an empty file: released on purpose, not left by a holder that died
        handle.close()  # closing the file releases the flock


def _take_lock(path: Path, wait: bool, say: Callable[[str], object]) -> IO[str]:
    """The open lock file, locked by this process and naming it."""
    handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o666), "r+")  # never truncates a holder's record
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _lock_holder(handle)
        if not wait:
            handle.close()
            raise SeiscreenError(f"{holder} ({path.parent}): wait for it to finish (seiscreen run --wait waits for "
                                 "it), or pass another --store") from None
        say(f"{holder}: waiting for it to finish")
        fcntl.flock(handle, fcntl.LOCK_EX)
    except OSError as exc:  # a file system without file locks
        say(f"note: {path.parent} has no file locks ({exc.strerror}): nothing stops a second run writing into it")
    left = _lock_record(handle)
    if left:
        say(f"took over the lock of the store {path.parent} left by PID {left.get('pid')} on {left.get('host')} "
            f"(since {left.get('since')}), which stopped without releasing it")
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "since": datetime.now().astimezone().isoformat(timespec="seconds")}))
    handle.flush()
    return handle


def _lock_record(handle: IO[str]) -> dict:
    """What the lock file says of its holder ({} when empty or unreadable: released, or being written)."""
    handle.seek(0)
    try:
        record = json.loads(handle.read() or "{}")
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _lock_holder(handle: IO[str]) -> str:
    record = _lock_record(handle)
    if not record:
        return "store in use by another process"
    return f"store in use by PID {record.get('pid')} on {record.get('host')} since {record.get('since')}"

