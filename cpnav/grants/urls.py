from django.urls import path

from cpnav.grants import views

app_name = "grants"
urlpatterns = [
    path("deadlines/", views.due_soon, name="due_soon"),
    path("grants/<uuid:grant_id>/", views.grant_detail, name="grant"),
]
