"""Ending a process without the interpreter's final garbage collections.

At exit Python traverses every object that torch, Inductor and Optuna created; after importing
them alone that took 0.9 s of a process's end on this project's CPU machine (README, "A 20-trial
study"), and a study's last worker and the command both pay it before the command returns.
"""

from __future__ import annotations

import atexit
import gc


def skip_final_collection() -> None:
    """Freeze every object as the interpreter exits, so its last collections skip them.

    Registered before other exit handlers, it runs after them (they run last in, first out), so
    they still run, with everything alive; objects are still freed as their references go, and only
    unreachable cycles are left for the operating system to reclaim with the process.
    """
    atexit.register(gc.freeze)
