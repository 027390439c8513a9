from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

urlpatterns = [
    # First: an API call is then resolved without trying every page's pattern.
    path("", include("cpnav.api.urls")),
    path("", include("cpnav.core.urls")),
    path("", include("cpnav.accounts.urls")),
    path("", include("cpnav.identity.urls")),
    path("", include("cpnav.identity.saml_urls")),  # namespace "saml"
    path("", include("cpnav.audit.urls")),
    path("", include("cpnav.check.urls")),
    path("", include("cpnav.guide.urls")),
    path("", include("cpnav.cases.urls")),
    path("", include("cpnav.documents.urls")),
    path("", include("cpnav.screening.urls")),
    path("", include("cpnav.grants.urls")),
    path("", include("cpnav.referrals.urls")),
    path("", include("cpnav.engagement.urls")),
    path("", include("cpnav.reports.urls")),
    path("", include("cpnav.exports.urls")),
    path("", include("cpnav.imports.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("admin/", admin.site.urls),
]

handler400 = "cpnav.core.views.bad_request"
handler403 = "cpnav.core.views.permission_denied"
handler404 = "cpnav.core.views.not_found"
handler500 = "cpnav.core.views.server_error"
