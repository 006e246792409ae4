from django.urls import path

from ..views import connection as v

urlpatterns = [
    path("connect/", v.connection_start, name="connection_start"),
    path("disconnect/", v.connection_disconnect, name="connection_disconnect"),
    path("diagnose/", v.connection_diagnose, name="connection_diagnose"),
]
