from django.urls import path

from cpnav.accounts import agency_views, password_views, views, webauthn_views

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
    path(
        "accounts/signin/security-key/",
        webauthn_views.security_key_signin,
        name="security_key_signin",
    ),
    path(
        "accounts/me/confirm/security-key/",
        webauthn_views.security_key_confirm,
        name="security_key_confirm",
    ),
    path(
        "accounts/me/security-keys/add/", webauthn_views.security_key_add, name="security_key_add"
    ),
    path(
        "accounts/me/security-keys/<uuid:key_id>/",
        webauthn_views.security_key,
        name="security_key",
    ),
    path(
        "accounts/me/security-keys/<uuid:key_id>/remove/",
        webauthn_views.security_key_remove,
        name="security_key_remove",
    ),
]
