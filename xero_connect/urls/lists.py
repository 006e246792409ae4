from django.urls import path

from ..views import lists as v

urlpatterns = [
    path("", v.lists_index, name="lists_index"),
    path("refresh/", v.lists_refresh, name="lists_refresh"),
    path("refresh/<int:refresh_id>/", v.lists_refresh_detail, name="lists_refresh_detail"),
    path("refresh/<int:refresh_id>/progress/", v.lists_refresh_progress, name="lists_refresh_progress"),
]
