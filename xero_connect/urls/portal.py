from django.urls import path

from ..views import portal as v

urlpatterns = [
    path("", v.portal, name="portal"),
    path("bulk/", v.portal_bulk, name="portal_bulk"),
    path("jobs/<int:job_id>/", v.portal_job, name="portal_job"),
    path("jobs/<int:job_id>/progress/", v.portal_job_progress, name="portal_job_progress"),
]
