# Drops XeroConnection.previous_refresh_token_encrypted (#11): written on every rotation, never
# read. The grace-period recovery in services/tokens.py uses the stored refresh token itself.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('xero_connect', '0008_18_export_indexes'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='xeroconnection',
            name='previous_refresh_token_encrypted',
        ),
    ]
