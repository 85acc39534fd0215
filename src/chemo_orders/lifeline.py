"""Child processes that die with their parent.

The forked PDF helper and the batch workers block on a pipe their parent writes to; they
inherit that pipe's write end too, so a parent killed outright (SIGKILL, the OOM killer, a
closed terminal) never sends them end-of-file and they would wait forever, each holding
weasyprint's ~100 MB. Measured before this module: killing a ``render`` left its helper
running. Standard library only: the PDF helper calls this before importing anything heavy.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>: deliver a signal to this process when its parent dies
POLL_SECONDS = 0.5  # where prctl is missing: how often the child looks for its parent


def die_with_parent(parent: int) -> None:
    """Call first in a child forked by ``parent`` (its pid): end this process when it dies.

    Linux: the kernel sends SIGKILL at the parent's death (prctl PR_SET_PDEATHSIG). Elsewhere a
    daemon thread polls the parent id. Either way, a parent already gone before the request
    took effect is caught by comparing the parent id afterwards.
    """
    if not (sys.platform.startswith("linux") and _request_signal_at_parent_death()):
        threading.Thread(target=_watch, args=(parent,), daemon=True, name="lifeline").start()
    if os.getppid() != parent:
        os._exit(1)


def _request_signal_at_parent_death() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):  # no C library symbol to call: fall back to polling
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os._exit(1)
