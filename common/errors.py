"""The exception types a run ends with, at the bottom of common/'s layers: `UsageError` for bad input
(every layer raises it; `common.harness.run_main` turns it into one line on stderr and exit code 2),
and `Terminated` for SIGTERM, which a run takes as it takes Ctrl-C: it stops, keeps its checkpoint,
says how to resume, and exits 143."""

from __future__ import annotations

import signal
import threading


class UsageError(Exception):
    """Bad input found after parsing (a bad CSV, a missing download). `main` turns it into exit 2."""


class Diverged(UsageError):
    """A training's loss became NaN or infinite (a step size too large for the data, or the data):
    the run stops there, with one line naming the stage and the epoch, and claims no number."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (`stop_on_sigterm`): handled wherever Ctrl-C is, with exit code 143."""


_terminated = False


def _on_sigterm(signum, frame) -> None:
    global _terminated
    _terminated = True
    raise Terminated()


def stop_on_sigterm() -> None:
    """From now on SIGTERM raises Terminated in the main thread, and is remembered: should a library
    swallow that exception, `check_terminated` raises it again at the next safe point (the end of an
    epoch or a stage)."""
    if threading.current_thread() is threading.main_thread():  # where Python runs its handlers
        signal.signal(signal.SIGTERM, _on_sigterm)


def check_terminated() -> None:
    if _terminated:
        raise Terminated()
