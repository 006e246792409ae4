from django.urls import path

from ..views import exports as v

urlpatterns = [
    path("", v.exports_page, name="exports_page"),
    path("export/", v.exports_action, name="exports_action"),
    path("re-export/", v.exports_reexport, name="exports_reexport"),
    path("jobs/<int:job_id>/progress/", v.exports_job_progress, name="exports_job_progress"),
    path("items/<int:record_id>/", v.exports_record, name="exports_record"),
    path("items/<int:record_id>/xero-changes/", v.exports_drift_action, name="exports_drift_action"),
    path("import/", v.documents_import, name="documents_import"),
]
