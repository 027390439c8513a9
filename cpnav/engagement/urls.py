from django.urls import path

from cpnav.engagement import views

app_name = "engagement"
urlpatterns = [
    path("engagement/", views.home, name="home"),
    path("engagement/meeting/", views.request_new, name="request_new"),
    path("engagement/meeting/<str:token>/", views.request_status, name="request_status"),
    path("engagement/requests/", views.requests, name="requests"),
    path("engagement/requests/<uuid:request_id>/", views.request_detail, name="request"),
    path("engagement/sessions/", views.sessions, name="sessions"),
    path("engagement/sessions/new/", views.session_new, name="session_new"),
    path("engagement/sessions/<uuid:session_id>/", views.session_detail, name="session"),
    path("engagement/sessions/<uuid:session_id>/edit/", views.session_edit, name="session_edit"),
    path(
        "engagement/sessions/<uuid:session_id>/manage/", views.session_manage, name="session_manage"
    ),
    path("engagement/place/<str:token>/", views.registration, name="registration"),
    path(
        "engagement/place/<str:token>/invite.ics", views.registration_ics, name="registration_ics"
    ),
    path("engagement/mine/", views.mine, name="mine"),
    path("engagement/mine/<uuid:registration_id>/", views.my_registration, name="my_registration"),
    path("engagement/mine/<uuid:registration_id>/invite.ics", views.my_ics, name="my_ics"),
    path("engagement/agencies/", views.agencies, name="agencies"),
    path("engagement/agencies/<str:key>/", views.agency, name="agency"),
]
