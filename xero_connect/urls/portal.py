from django.urls import path

from ..views import portal as v

urlpatterns = [
    path("", v.portal, name="portal"),
]
