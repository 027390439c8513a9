from django.urls import path

from cpnav.exports import views

app_name = "exports"
urlpatterns = [
    path("exports/", views.index, name="index"),
    path("exports/<slug:dataset>/", views.export, name="export"),
]
