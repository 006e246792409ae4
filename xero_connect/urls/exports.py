from django.urls import path

from ..views import exports as v

urlpatterns = [
    path("", v.exports_page, name="exports_page"),
]
