"""The documented production command (`manage.py serve`, waitress) behind a TLS-terminating
proxy: no redirect loop, the SSL redirect still works for direct plain-HTTP requests, and a
client that is not the proxy cannot claim HTTPS. Runs the command's own server in a thread."""
import threading

import pytest
import requests

from xero_connect.management.commands.serve import create_server, waitress_options


@pytest.fixture
def production_like(settings, db):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["app.example", "127.0.0.1"]
    return settings


def serve(settings, trusted_proxy):
    settings.TRUSTED_PROXY = trusted_proxy
    server = create_server(host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server, f"http://127.0.0.1:{server.effective_port}"


def get(base, **headers):
    return requests.get(f"{base}/login/", headers={"Host": "app.example", **headers}, allow_redirects=False,
                        timeout=10)


def test_behind_the_trusted_proxy_https_requests_are_served_not_redirected(production_like):
    server, base = serve(production_like, "127.0.0.1")
    try:
        through_proxy = get(base, **{"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
        assert through_proxy.status_code == 200  # no loop
        assert 'name="password"' in through_proxy.text
        plain = get(base)
        assert plain.status_code == 301 and plain.headers["Location"] == "https://app.example/login/"
    finally:
        server.close()


def test_without_trusting_the_proxy_the_old_command_loops(production_like):
    """What the README's old `waitress-serve config.wsgi:application` did: the forwarded proto is
    dropped, so every request through the proxy is redirected to https again, forever."""
    server, base = serve(production_like, "")
    try:
        response = get(base, **{"X-Forwarded-Proto": "https"})
        assert response.status_code == 301 and response.headers["Location"] == "https://app.example/login/"
    finally:
        server.close()


def test_a_client_that_is_not_the_proxy_cannot_claim_https(production_like):
    server, base = serve(production_like, "192.0.2.1")  # the proxy is elsewhere; we call from 127.0.0.1
    try:
        assert get(base, **{"X-Forwarded-Proto": "https"}).status_code == 301
    finally:
        server.close()


def test_the_options_trust_forwarded_headers_only_from_the_proxy(settings):
    settings.TRUSTED_PROXY = "10.0.0.5"
    options = waitress_options()
    assert options["trusted_proxy"] == "10.0.0.5" and options["clear_untrusted_proxy_headers"] is True
    assert set(options["trusted_proxy_headers"].split()) >= {"x-forwarded-proto", "x-forwarded-for"}
    settings.TRUSTED_PROXY = ""
    assert "trusted_proxy" not in waitress_options()
