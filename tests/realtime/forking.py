"""Run a function in a forked child (as a preload-and-fork server makes its workers) and get its result."""

from __future__ import annotations

import os
import pickle
import traceback
from collections.abc import Callable
from typing import Any


def in_forked_child(function: Callable[[], Any]) -> Any:
    """``function()`` as the child of ``os.fork`` computes it; its exception is raised here as an AssertionError."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's cleanup (atexit, pytest)
        os.close(read_end)
        try:
            outcome = ("ok", function())
        except BaseException:  # noqa: BLE001 -- whatever it is goes to the parent
            outcome = ("error", traceback.format_exc())
        with os.fdopen(write_end, "wb") as pipe:
            pickle.dump(outcome, pipe)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    status, value = pickle.loads(data)
    if status == "error":
        raise AssertionError(f"the forked child failed:\n{value}")
    return value
