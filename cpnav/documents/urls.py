from django.urls import path

from cpnav.documents import views

app_name = "documents"
urlpatterns = [
    path("requests/<uuid:request_id>/package/", views.generate, name="generate"),
    path("packages/<uuid:document_id>/", views.download, name="download"),
]
