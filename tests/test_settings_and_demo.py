import subprocess
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from xero_connect.models import ExchangeRate, Membership, Organisation

ENV_SETTINGS = ["DATABASE_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "XERO_CLIENT_ID", "XERO_CLIENT_SECRET",
                "XERO_REDIRECT_URI", "XERO_SCOPES", "XERO_AUTHORIZE_URL", "XERO_TOKEN_URL", "XERO_REVOKE_URL",
                "XERO_CONNECTIONS_URL", "XERO_API_URL", "TOKEN_ENCRYPTION_KEYS", "REDIS_URL", "EMAIL_URL"]


def test_every_deployment_setting_is_a_django_setting():
    missing = [name for name in ENV_SETTINGS if name != "DATABASE_URL" and not hasattr(settings, name)]
    assert missing == []
    assert settings.DATABASES["default"]["ENGINE"]


def test_xero_urls_come_from_the_environment():
    code = ("import django,os;os.environ['DJANGO_SETTINGS_MODULE']='config.settings';django.setup();"
            "from django.conf import settings as s;print(s.XERO_TOKEN_URL, s.XERO_SCOPES, s.DATABASES['default']['ENGINE'])")
    env = {"PATH": "/usr/bin:/bin", "XERO_TOKEN_URL": "https://identity.xero.com/connect/token",
           "XERO_SCOPES": "openid,offline_access,accounting.settings",
           "DATABASE_URL": "postgres://u:p@db.example:5432/x", "HOME": "/tmp"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=settings.BASE_DIR).stdout
    assert "https://identity.xero.com/connect/token" in out
    assert "['openid', 'offline_access', 'accounting.settings']" in out
    assert "postgresql" in out


def test_production_settings_pass_check_deploy():
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "DEBUG": "false", "SECRET_KEY": "x" * 60 + "-prod-check-only",
           "TOKEN_ENCRYPTION_KEYS": "dGVzdC1vbmx5LWtleS1ub3QtYS1zZWNyZXQtMDAwMDA=", "ALLOWED_HOSTS": "xc.example.com",
           "DATABASE_URL": "sqlite:////tmp/xc-check.sqlite3"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env=env,
                            capture_output=True, text=True, cwd=settings.BASE_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_demo_secrets():
    # Stated explicitly: a local .env (written by scripts/setup) must not decide this test.
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "DEBUG": "false", "ALLOWED_HOSTS": "xc.example.com",
           "DATABASE_URL": "sqlite:////tmp/xc-check.sqlite3", "SECRET_KEY": settings.DEMO_SECRET_KEY}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], env=env, capture_output=True,
                            text=True, cwd=settings.BASE_DIR)
    assert result.returncode != 0
    assert "xero_connect.E001" in result.stderr + result.stdout


def test_seed_demo_is_idempotent(db):
    call_command("seed_demo", documents=0, stdout=open("/dev/null", "w"))
    counts = (Organisation.objects.count(), Membership.objects.count(), ExchangeRate.objects.count(),
              get_user_model().objects.count())
    call_command("seed_demo", documents=0, stdout=open("/dev/null", "w"))
    assert counts == (Organisation.objects.count(), Membership.objects.count(), ExchangeRate.objects.count(),
                      get_user_model().objects.count())
    bea = get_user_model().objects.get(username="bea")
    assert Membership.objects.filter(user=bea).count() >= 3
