from django.urls import path

from ..views import mapping as v

urlpatterns = [
    path("", v.mapping_index, name="mapping_index"),
    path("<int:category_id>/", v.mapping_save, name="mapping_save"),
    path("<int:category_id>/create-account/", v.mapping_create_account, name="mapping_create_account"),
    path("suggestions/", v.mapping_accept_suggestions, name="mapping_accept_suggestions"),
]
