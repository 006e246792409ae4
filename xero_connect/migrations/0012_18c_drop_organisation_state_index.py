from django.db import migrations


class Migration(migrations.Migration):
    """(organisation, state) is a prefix of exportrecord_claim_idx: the claim's index serves it.
    Kept, it let PostgreSQL's planner read and sort every queued record at each claim (issue #18)."""

    dependencies = [
        ("xero_connect", "0011_16b_drift_api_event"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="exportrecord", name="xero_connec_organis_620c0e_idx"),
    ]
