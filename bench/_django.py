"""Shared start of the page benchmarks: a throw-away database (SQLite in a temporary
directory, or the PostgreSQL database named by BENCH_DATABASE_URL), migrated, Django set up."""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_for_bench(prefix: str, **env) -> Path:
    """Point Django at the bench database, migrate it and set Django up; `env` adds settings
    (e.g. DEBUG="true"). Returns the temporary directory (the caller removes it)."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "false", "LOG_LEVEL": "WARNING",
                       "SECRET_KEY": "bench-only-not-a-secret-" + "x" * 40,
                       "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost", **env})
    sys.path.insert(0, str(ROOT))
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True,
                   env=os.environ)
    import django

    django.setup()
    return workdir
