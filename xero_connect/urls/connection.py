from django.urls import path

from ..views import connection as v

urlpatterns = [
    path("", v.connection_page, name="connection_page"),
    path("connect/", v.connection_start, name="connection_start"),
    path("reconnect/", v.connection_reconnect, name="connection_reconnect"),
    path("sign-in/<int:pending_id>/choose/", v.connection_choose, name="connection_choose"),
    path("sign-in/<int:pending_id>/confirm/", v.connection_confirm, name="connection_confirm"),
    path("sign-in/<int:pending_id>/cancel/", v.connection_pending_cancel, name="connection_pending_cancel"),
    path("disconnect/", v.connection_disconnect, name="connection_disconnect"),
    path("diagnose/", v.connection_diagnose, name="connection_diagnose"),
]
