from django.urls import path

from cpnav.guide import views

app_name = "guide"
urlpatterns = [
    path("guide/", views.home, name="home"),
    path("guide/<str:lang>/", views.index, name="index"),
    path("guide/<str:lang>/search/", views.search_view, name="search"),
    path("guide/<str:lang>/<slug:kind>.pdf", views.pdf, name="pdf"),
    path("guide/<str:lang>/<slug:slug>/", views.page, name="page"),
]
