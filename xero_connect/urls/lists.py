from django.urls import path

from ..views import lists as v

urlpatterns = [
    path("", v.lists_index, name="lists_index"),
    path("refresh/", v.lists_refresh, name="lists_refresh"),
]
