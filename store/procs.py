"""Worker processes of the import's pools (parsing, counting for the index).

A Ctrl-C in a terminal reaches every process of the foreground group: workers that took it would
die mid-task with a traceback each, possibly holding a queue lock that `Pool.terminate()` then waits
for forever. They ignore it instead; the importing process alone decides to stop, and terminates
its pools with SIGTERM, which ends a worker at once: the default action, whatever handler the
importing process had installed when the worker was forked.
"""

from __future__ import annotations

import os
import signal


def quiet_worker(niceness: int = 0) -> None:
    """A pool worker's initializer: SIGINT ignored, SIGTERM back to its default (a forked worker
    inherits the importing process's handlers; `terminate` must end it silently), and `niceness`
    added to its priority."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if niceness:
        os.nice(niceness)
