"""Tokens (and webhook signing secrets) become fields.EncryptedTextField.

Same columns, same type (text), same ciphertext (MultiFernet's URL-safe base64 token): only the
field class changes, so this migration alters Django's model state and sends no SQL.
"""
from django.db import migrations

import xero_connect.models.fields


def _encrypted(**kwargs):
    return xero_connect.models.fields.EncryptedTextField(**kwargs)


class Migration(migrations.Migration):

    dependencies = [
        ("xero_connect", "0011_16b_drift_api_event"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="pendingauthorisation", name="access_token_encrypted",
                                      field=_encrypted()),
                migrations.AlterField(model_name="pendingauthorisation", name="refresh_token_encrypted",
                                      field=_encrypted()),
                migrations.AlterField(model_name="webhookendpoint", name="secret_encrypted",
                                      field=_encrypted(blank=False)),
                migrations.AlterField(model_name="xeroconnection", name="access_token_encrypted",
                                      field=_encrypted()),
                migrations.AlterField(model_name="xeroconnection", name="refresh_token_encrypted",
                                      field=_encrypted()),
            ],
            database_operations=[],
        ),
    ]
