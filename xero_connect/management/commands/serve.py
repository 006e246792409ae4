"""The production web server: waitress, told which proxy to trust.

    python manage.py serve [--host 0.0.0.0] [--port 8000]

Behind a TLS-terminating proxy set TRUSTED_PROXY to the proxy's address (or a comma-separated
list, or `*` when only the proxy can reach this port). The proxy contract:
- the proxy terminates TLS and forwards to this server over plain HTTP;
- it sets X-Forwarded-Proto (https), X-Forwarded-For (the client's address) and
  X-Forwarded-Host (or passes the Host header through unchanged);
- waitress honours those headers only from TRUSTED_PROXY and drops them from anyone else, so
  a client cannot claim to be on HTTPS or to come from another address.
Waitress then hands Django `wsgi.url_scheme = https` and the client's REMOTE_ADDR: the SSL
redirect does not loop, secure cookies are set, CSRF origins match, and the sign-in throttle
counts real client addresses. Without TRUSTED_PROXY no forwarded header is trusted, which is
right for a server that is reached directly.
"""
from django.conf import settings
from django.core.management.base import BaseCommand

FORWARDED_HEADERS = ("x-forwarded-proto", "x-forwarded-for", "x-forwarded-host", "x-forwarded-port")


def waitress_options() -> dict:
    """Keyword arguments for waitress.serve/create_server, from settings."""
    options = {"threads": settings.WAITRESS_THREADS, "ident": "", "clear_untrusted_proxy_headers": True}
    proxy = (settings.TRUSTED_PROXY or "").strip()
    if proxy:
        options.update(trusted_proxy=proxy, trusted_proxy_headers=" ".join(FORWARDED_HEADERS))
    return options


def create_server(*, host: str, port: int):
    """A waitress server for the Django application (port 0: any free port)."""
    from django.core.wsgi import get_wsgi_application
    from waitress.server import create_server as waitress_create_server

    return waitress_create_server(get_wsgi_application(), host=host, port=port, **waitress_options())


class Command(BaseCommand):
    help = "Serve the site with waitress, trusting forwarded headers only from TRUSTED_PROXY."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="0.0.0.0")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host, port, **options):
        server = create_server(host=host, port=port)
        proxy = settings.TRUSTED_PROXY or "none (forwarded headers ignored)"
        self.stdout.write(f"Serving on http://{host}:{server.effective_port}/ · trusted proxy: {proxy}")
        server.run()
