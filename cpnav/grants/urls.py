from django.urls import path

from cpnav.grants import views

app_name = "grants"
urlpatterns = [
    path("deadlines/", views.due_soon, name="due_soon"),
    path("grants/<uuid:grant_id>/", views.grant_detail, name="grant"),
    path(
        "grants/<uuid:grant_id>/deadlines/<slug:kind>.ics", views.deadline_ics, name="deadline_ics"
    ),
    path("calendar/new/", views.calendar_new, name="calendar_new"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
]
