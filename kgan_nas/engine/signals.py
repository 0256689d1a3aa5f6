"""Signal handling while a search runs (pure Python)."""

import contextlib
import signal
import threading


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Turns SIGTERM (a plain `kill`) into KeyboardInterrupt while a search runs.

    Then the search unwinds as for Ctrl-C: its workers are stopped and the run
    directory's lock released, instead of the process vanishing mid-write.
    Only in the main thread, and only if nobody else handles SIGTERM.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
