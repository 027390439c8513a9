from django.urls import path

from cpnav.core import views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("accessibility/", views.accessibility, name="accessibility"),
    path("privacy/", views.privacy, name="privacy"),
    path("vulnerability-disclosure/", views.disclosure, name="disclosure"),
    path(".well-known/security.txt", views.security_txt, name="security_txt"),
    path("healthz", views.healthz, name="healthz"),
]
