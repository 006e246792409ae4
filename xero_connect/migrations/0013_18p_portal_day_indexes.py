"""Issue #18 (pages at scale): the portal's 30-day picture reads its counts per day from indexes.

exportrecord (organisation, state, exported_at) and exportattempt (outcome, started_at, record)
hold every column the picture's grouped query reads; the days are bucketed at read time from the
stored timestamps (selectors.portal.daily_activity), so there is nothing to backfill or maintain.
The old (organisation, state) index is the prefix of this one and of the claim index: dropped.
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('xero_connect', '0012_11t_token_field'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='exportrecord',
            name='xero_connec_organis_620c0e_idx',
        ),
        migrations.AddIndex(
            model_name='exportattempt',
            index=models.Index(fields=['outcome', 'started_at', 'record'], name='exportattempt_failed_day_idx'),
        ),
        migrations.AddIndex(
            model_name='exportrecord',
            index=models.Index(fields=['organisation', 'state', 'exported_at'], name='exportrecord_exported_day_idx'),
        ),
    ]
