"""Three tiny views for the router's request tests: a write, a read, a write then a read."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from cpnav.accounts.models import Agency, Level
from cpnav.core.routers import replica_reads


def _found(name: str) -> bool:
    return Agency.objects.filter(name=name).exists()


@csrf_exempt
def write(request: HttpRequest, name: str) -> JsonResponse:
    Agency.objects.create(name=name, level=Level.LOCAL, state="OH")
    return JsonResponse({"ok": True})


def read(request: HttpRequest, name: str) -> JsonResponse:
    with replica_reads(request) as reads:
        found = _found(name)
    return JsonResponse({"found": found, "alias": reads.alias})


@csrf_exempt
def write_then_read(request: HttpRequest, name: str) -> JsonResponse:
    with replica_reads(request) as reads:
        Agency.objects.create(name=name, level=Level.LOCAL, state="OH")
        found = _found(name)
    return JsonResponse({"found": found, "alias": reads.alias})


urlpatterns = [
    path("write/<str:name>/", write),
    path("read/<str:name>/", read),
    path("write-then-read/<str:name>/", write_then_read),
]
