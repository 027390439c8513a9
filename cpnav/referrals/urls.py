from django.urls import path

from cpnav.referrals import views

app_name = "referrals"
urlpatterns = [
    path("services/", views.directory, name="directory"),
    path("services/import/", views.provider_import, name="import"),
    path("services/<uuid:provider_id>/", views.provider_detail, name="provider"),
    path("people/<uuid:person_id>/referrals/", views.person_referrals, name="person_referrals"),
    path("referrals/<uuid:referral_id>/", views.referral_detail, name="referral"),
]
