from django.urls import path

from cpnav.accounts import agency_views, password_views, views

app_name = "accounts"

urlpatterns = [
    path("accounts/notice/", views.notice, name="notice"),
    path("accounts/signin/", views.signin, name="signin"),
    path("accounts/signin/verify/", views.verify, name="verify"),
    path("accounts/mfa/setup/", views.mfa_setup, name="mfa_setup"),
    path("accounts/mfa/recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("accounts/me/", views.account, name="account"),
    path("accounts/me/password/", password_views.password_change, name="password_change"),
    path("accounts/me/confirm/", views.confirm_identity, name="confirm_identity"),
    path("accounts/me/api-tokens/", views.api_tokens, name="api_tokens"),
    path("accounts/signout/", views.signout, name="signout"),
    path("accounts/signout/everywhere/", views.signout_everywhere, name="signout_everywhere"),
    path("accounts/session/keepalive/", views.keepalive, name="keepalive"),
    path("accounts/invitations/<str:token>/", views.invitation, name="invitation"),
    path(
        "accounts/password-reset/<str:token>/", password_views.password_reset, name="password_reset"
    ),
    path("agencies/", agency_views.agencies, name="agencies"),
    path("agencies/<uuid:agency_id>/members/", agency_views.members, name="members"),
    path("agencies/<uuid:agency_id>/members/invite/", agency_views.invite, name="invite"),
    path(
        "agencies/<uuid:agency_id>/invitations/<uuid:invitation_id>/revoke/",
        agency_views.revoke_invitation,
        name="revoke_invitation",
    ),
    path("agencies/<uuid:agency_id>/members/<uuid:user_id>/", agency_views.member, name="member"),
    path(
        "agencies/<uuid:agency_id>/members/<uuid:user_id>/reset/",
        agency_views.member_reset,
        name="member_reset",
    ),
    path(
        "agencies/<uuid:agency_id>/members/<uuid:user_id>/<slug:action>/",
        agency_views.member_action,
        name="member_action",
    ),
]
