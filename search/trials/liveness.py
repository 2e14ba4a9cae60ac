"""Telling live workers from dead ones, so a killed worker costs only its own trial.

Every running trial carries its worker's identity (host, boot, pid, process start) and a
heartbeat in its system attributes. A trial is dead when its worker process is gone (seen at
once on the same host) or its heartbeat is older than the grace period (any host, any storage).
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial

from search.trials.periodic import Periodic

HEARTBEAT_S = float(os.environ.get("HOURGLASS_HEARTBEAT_S", "10"))
GRACE_S = float(os.environ.get("HOURGLASS_GRACE_S", str(6 * HEARTBEAT_S)))

_HOST, _BOOT, _PIDNS, _PID, _START, _BEAT = (
    f"hourglass_{k}" for k in ("host", "boot", "pidns", "pid", "start", "heartbeat")
)


@dataclass(frozen=True)
class WorkerIdentity:
    """Who runs a trial: enough to tell, from the same host and PID namespace, whether that process
    still lives. Containers on one host share its hostname and boot id but each has PID numbers of
    its own, so a pid means the same process only within one PID namespace."""

    host: str
    boot: str
    pid: int
    start: str
    pid_namespace: str = ""

    @classmethod
    def current(cls) -> WorkerIdentity:
        """This process."""
        pid = os.getpid()
        return cls(socket.gethostname(), _boot_id(), pid, _process_start(pid), _pid_namespace())

    def register(self, storage: BaseStorage, trial_id: int) -> None:
        """Record this worker and a first heartbeat on a trial it runs."""
        # The pid goes last: others read a trial that has one as fully registered.
        for key, value in (
            (_HOST, self.host),
            (_BOOT, self.boot),
            (_PIDNS, self.pid_namespace),
            (_START, self.start),
            (_BEAT, time.time()),
        ):
            storage.set_trial_system_attr(trial_id, key, value)
        storage.set_trial_system_attr(trial_id, _PID, self.pid)


def worker_of(trial: FrozenTrial) -> tuple[str, int] | None:
    """The host and pid of the worker that registered on ``trial``; None if none did."""
    attrs = trial.system_attrs
    return (attrs[_HOST], attrs[_PID]) if _PID in attrs else None


def dead_reason(trial: FrozenTrial, me: WorkerIdentity, now: float | None = None) -> str | None:
    """Why a RUNNING trial's worker is dead, or None while it may be alive."""
    now = time.time() if now is None else now
    attrs = trial.system_attrs
    if _PID not in attrs:
        # Asked for but not yet registered: only age can tell.
        started = trial.datetime_start.timestamp() if trial.datetime_start else now
        return f"its worker never registered ({now - started:.0f} s)" if now - started > GRACE_S else None
    who = f"worker pid {attrs[_PID]} on {attrs[_HOST]}"
    same_namespace = attrs.get(_PIDNS) == me.pid_namespace != ""
    if attrs[_HOST] == me.host and attrs.get(_BOOT) == me.boot and same_namespace:
        if _process_start(int(attrs[_PID])) != attrs[_START]:
            return f"{who} is gone"
        return None
    silent = now - float(attrs.get(_BEAT, 0.0))
    return f"{who} sent no heartbeat for {silent:.0f} s" if silent > GRACE_S else None


class Heartbeat(Periodic):
    """Refreshes a trial's heartbeat from a background thread while the trial runs."""

    def __init__(self, storage: BaseStorage, trial_id: int) -> None:
        super().__init__(HEARTBEAT_S, self._beat, f"heartbeat-{trial_id}")
        self._storage = storage
        self._trial_id = trial_id

    def _beat(self) -> bool:
        try:
            self._storage.set_trial_system_attr(self._trial_id, _BEAT, time.time())
        except optuna.exceptions.UpdateFinishedTrialError:
            return False  # another worker judged this trial dead; the runner finds out at tell()
        return True


def _pid_namespace() -> str:
    """This process's PID namespace (``pid:[4026531836]``), or '' where /proc cannot tell."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' when there is no such process).

    A pid alone can be reused by a new process after a crash; pid plus start time cannot.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return ""
    except OSError:
        return _alive_by_signal(pid)
    # Field 22; the command name (field 2) may hold spaces, so split after its closing ')'.
    return stat.rsplit(")", 1)[1].split()[19]


def _alive_by_signal(pid: int) -> str:
    """Fallback where /proc is missing: alive or not, without a start time."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return ""
    except PermissionError:
        pass
    return "alive"
