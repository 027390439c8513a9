from __future__ import annotations

from django.urls import path
from ninja import NinjaAPI

from cpnav.api.policy import router as policy_router

# docs_url=None: the interactive docs page would load scripts from a CDN, which
# our CSP and privacy notice forbid. The OpenAPI document itself is served.
api = NinjaAPI(
    title="CP Navigator API",
    version="1",
    urls_namespace="api",
    docs_url=None,
    description="Continued Presence navigator. Errors always carry `detail` and `errors`.",
)
api.add_router("/", policy_router)

urlpatterns = [path("api/v1/", api.urls)]
