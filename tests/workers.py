"""Real django-q2 workers (`manage.py qcluster` subprocesses) against the test database."""
import os
import signal
import subprocess
import time

import pytest
from django.conf import settings

from .processes import PYTHON, child_env
from .xero_live import SANDBOX_SETTINGS


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.2, tick=None):
    """Poll until predicate() is true; bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if tick:
            tick()
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Cluster:
    """One qcluster process group; `kill()` is a power cut (SIGKILL, no clean-up)."""

    def __init__(self, env, log_name: str = "worker"):
        log_dir = settings.BASE_DIR / "test-artifacts"
        log_dir.mkdir(exist_ok=True)
        self.log_path = log_dir / f"{log_name}-{os.getpid()}-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w")
        env = {**env, "Q_SYNC": "false"}
        self.proc = subprocess.Popen([PYTHON, "manage.py", "qcluster"], cwd=settings.BASE_DIR, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._log.close()

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def async_queue(monkeypatch):
    """Tasks go to the broker for the real workers instead of running inline (tests run django-q2
    synchronously otherwise)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)


def xero_env(settings_obj) -> dict:
    """The sandbox URLs this test points at, for a worker process's environment."""
    return {name: getattr(settings_obj, name) for name in SANDBOX_SETTINGS}


@pytest.fixture
def worker(xero, settings, async_queue):
    """Start real workers pointed at the test database and the sandbox; all stopped afterwards."""
    started = []

    def start(**extra_env):
        cluster = Cluster(child_env(**xero_env(settings), **extra_env))
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        cluster.kill()
