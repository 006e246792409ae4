"""XeroConfig: read once, and read again when a test (or Django) changes a setting it holds."""
from django.test import override_settings

from xero_connect.config import SETTING_NAMES, xero_config


def test_the_config_is_read_once_and_follows_setting_changes(settings):
    first = xero_config()
    assert xero_config() is first  # cached
    settings.XERO_HTTP_TIMEOUT = 3.5
    assert xero_config().http_timeout == 3.5 and xero_config() is not first
    with override_settings(XERO_EXPORT_BATCH_SIZE=7):
        assert xero_config().export_batch_size == 7
    assert xero_config().export_batch_size == settings.XERO_EXPORT_BATCH_SIZE


def test_every_field_has_its_setting(settings):
    for name in SETTING_NAMES:
        assert hasattr(settings, name), name
