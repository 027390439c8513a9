from django.urls import URLPattern, path

from cpnav.imports import views

app_name = "imports"
urlpatterns: list[URLPattern] = [
    path("imports/", views.index, name="index"),
    path("imports/template.csv", views.template, name="template"),
    path("imports/<uuid:job_id>/", views.job_detail, name="job"),
    path("imports/<uuid:job_id>/columns/", views.mapping, name="mapping"),
    path("imports/<uuid:job_id>/import/", views.run_import, name="run"),
    path("imports/<uuid:job_id>/discard/", views.discard, name="discard"),
    path("imports/<uuid:job_id>/status/", views.status, name="status"),
    path("imports/<uuid:job_id>/problems.csv", views.problems_csv, name="problems"),
]
