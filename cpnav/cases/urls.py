from django.urls import path

from cpnav.cases import interview_views, queues, views
from cpnav.niem import views as niem_views

app_name = "cases"
urlpatterns = [
    path("cases/", views.case_list, name="cases"),
    path("cases/new/", views.case_new, name="case_new"),
    path("cases/<uuid:case_id>/", views.case_detail, name="case"),
    path("cases/<uuid:case_id>/edit/", views.case_edit, name="case_edit"),
    path("cases/<uuid:case_id>/people/new/", views.person_new, name="person_new"),
    path("cases/<uuid:case_id>/team/", views.case_team, name="case_team"),
    path("people/<uuid:person_id>/", views.person_detail, name="person"),
    path("people/<uuid:person_id>/edit/", views.person_edit, name="person_edit"),
    path("people/<uuid:person_id>/shares/", views.person_share, name="person_share"),
    path("people/<uuid:person_id>/requests/new/", views.request_new, name="request_new"),
    path("requests/<uuid:request_id>/", views.request_detail, name="request"),
    path("requests/<uuid:request_id>/facts/", views.request_facts, name="request_facts"),
    path(
        "requests/<uuid:request_id>/interview/", interview_views.interview, name="request_interview"
    ),
    path(
        "requests/<uuid:request_id>/interview/review/",
        interview_views.interview_review,
        name="request_review",
    ),
    path("requests/<uuid:request_id>/partner/", views.request_partner, name="request_partner"),
    path(
        "requests/<uuid:request_id>/actions/<slug:name>/",
        views.request_transition,
        name="request_transition",
    ),
    path(
        "requests/<uuid:request_id>/attachments/",
        views.attachment_upload,
        name="attachment_upload",
    ),
    path("attachments/<uuid:attachment_id>/", views.attachment_download, name="attachment"),
    path("queues/approval/", queues.approval, name="queue_approval"),
    path("queues/endorsement/", queues.endorsement, name="queue_endorsement"),
    path("queues/ccht/", queues.ccht_inbox, name="queue_ccht"),
    path("notifications/", views.notifications, name="notifications"),
    # NIEM exchange (cpnav.niem): download a request or grant, import a document.
    path("requests/<uuid:request_id>/niem.xml", niem_views.request_export, {"fmt": "xml"},
         name="request_niem_xml"),
    path("requests/<uuid:request_id>/niem.jsonld", niem_views.request_export, {"fmt": "jsonld"},
         name="request_niem_jsonld"),
    path("grants/<uuid:grant_id>/niem.xml", niem_views.grant_export, {"fmt": "xml"},
         name="grant_niem_xml"),
    path("grants/<uuid:grant_id>/niem.jsonld", niem_views.grant_export, {"fmt": "jsonld"},
         name="grant_niem_jsonld"),
    path("niem/import/", niem_views.import_document, name="niem_import"),
]  # fmt: skip
