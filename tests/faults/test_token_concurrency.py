"""16 processes need a token at the moment it expires: exactly one refresh reaches Xero's token
endpoint, every process gets the rotated token, and the rotated refresh token is stored."""
import json
import subprocess
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from tests import factories
from tests.processes import PYTHON, child_env
from xero_connect.models import XeroConnection

WORKERS = 16

CHILD = """
import sys, time, django
django.setup()
from xero_connect.services.tokens import access_token
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.005)
print(access_token(int(sys.argv[1])), flush=True)
"""


class TokenEndpoint(BaseHTTPRequestHandler):
    """A rotating token endpoint that answers slowly, to widen any race."""

    calls = 0
    lock = threading.Lock()
    seen_refresh_tokens: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with TokenEndpoint.lock:
            TokenEndpoint.calls += 1
            n = TokenEndpoint.calls
            TokenEndpoint.seen_refresh_tokens.append(body)
        time.sleep(0.4)
        payload = json.dumps({"access_token": f"access-{n}", "refresh_token": f"refresh-{n}", "expires_in": 1800,
                              "token_type": "Bearer", "scope": "offline_access accounting.settings"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def token_server():
    TokenEndpoint.calls = 0
    TokenEndpoint.seen_refresh_tokens = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/connect/token"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sixteen_processes_one_refresh_no_lost_rotation(org, token_server):
    conn = factories.make_connection(org, access_token="old-access", refresh_token="old-refresh")
    XeroConnection.objects.filter(pk=conn.pk).update(access_token_expires_at=timezone.now() - timedelta(seconds=5))
    env = child_env(XERO_TOKEN_URL=token_server)
    start_at = time.time() + 4.0  # every process is up and waiting before the clock strikes
    procs = [subprocess.Popen([PYTHON, "-c", CHILD, str(conn.pk), str(start_at)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(WORKERS)]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err[-2000:]
        outputs.append(out.strip())
    assert TokenEndpoint.calls == 1
    assert "refresh_token=old-refresh" in TokenEndpoint.seen_refresh_tokens[0]
    assert outputs == ["access-1"] * WORKERS
    stored = XeroConnection.objects.get(pk=conn.pk)
    assert stored.get_refresh_token() == "refresh-1"
    assert stored.refresh_lock_owner == "" and stored.refresh_lock_until is None
