from django.urls import path

from cpnav.check import views

app_name = "check"
urlpatterns = [path("check/", views.check, name="check")]
