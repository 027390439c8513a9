from django.urls import path

from cpnav.reports import views

app_name = "reports"
urlpatterns = [
    path("reports/", views.dashboard, name="dashboard"),
    path("reports/download/<slug:table>.<slug:fmt>", views.download_table, name="download"),
]
