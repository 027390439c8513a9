from django.urls import path

from cpnav.screening import views

app_name = "screening"
urlpatterns = [
    path("screening/", views.index, name="index"),
    path("screening/start/", views.start, name="start"),
    path("screening/<uuid:screening_id>/", views.step, name="step"),
    path("screening/<uuid:screening_id>/review/", views.review, name="review"),
    path("screening/<uuid:screening_id>/hand-off/", views.hand_off, name="hand_off"),
]
