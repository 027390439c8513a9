from django.urls import path

from cpnav.identity import admin_views, views

app_name = "identity"

urlpatterns = [
    path("identity/admin/providers/", admin_views.providers, name="providers"),
    path("identity/admin/providers/new/", admin_views.provider_new, name="provider_new"),
    path("identity/admin/providers/<slug:slug>/", admin_views.provider, name="provider"),
    path(
        "identity/agencies/<uuid:agency_id>/access-requests/",
        admin_views.access_requests,
        name="access_requests",
    ),
    path(
        "identity/agencies/<uuid:agency_id>/access-requests/<uuid:access_request_id>/",
        admin_views.access_request,
        name="access_request",
    ),
    path("identity/<slug:slug>/start/", views.start, name="start"),
    path("identity/<slug:slug>/callback/", views.callback, name="callback"),
    path("identity/<slug:slug>/jwks.json", views.jwks, name="jwks"),
    path(
        "identity/<slug:slug>/backchannel-logout/",
        views.backchannel_logout,
        name="backchannel_logout",
    ),
]
