from django.urls import path

from cpnav.identity import saml_views

app_name = "saml"

urlpatterns = [
    path("identity/saml/<slug:slug>/metadata/", saml_views.metadata, name="metadata"),
    path("identity/saml/<slug:slug>/acs/", saml_views.acs, name="acs"),
    path("identity/saml/<slug:slug>/complete/", saml_views.complete, name="complete"),
    path("identity/saml/<slug:slug>/slo/", saml_views.slo, name="slo"),
]
