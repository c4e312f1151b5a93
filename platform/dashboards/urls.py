from django.urls import path

from . import views, views_manage, views_models

app_name = "dashboards"
urlpatterns = [
    path("", views.home, name="home"),
    path("status.json", views.status_json, name="status-json"),
    path("switch/", views.switch_organisation, name="switch"),
    path("cohorts/<int:cohort_id>/", views.cohort_profile, name="cohort"),
    path("cohorts/<int:cohort_id>/subjects/", views.cohort_subjects, name="cohort-subjects"),
    path("subjects/<int:subject_id>/", views.subject_report, name="subject"),
    path("subjects/<int:subject_id>/report.pdf", views.subject_pdf, name="subject-pdf"),
    path("sessions/<int:session_id>/frames.json", views.session_frames, name="session-frames"),
    path("sessions/<int:session_id>/fhir.json", views.session_fhir, name="session-fhir"),
    path("manage/members/", views_manage.members, name="members"),
    path("manage/members/<int:membership_id>/", views_manage.member_change, name="member-change"),
    path("manage/invitations/<int:invitation_id>/revoke/", views_manage.invitation_revoke, name="invitation-revoke"),
    path("invite/<str:key>/", views_manage.invitation_accept, name="invite"),
    path("manage/tokens/", views_manage.tokens, name="tokens"),
    path("manage/tokens/<int:token_id>/revoke/", views_manage.token_revoke, name="token-revoke"),
    path("manage/cohorts/", views_manage.cohorts, name="cohorts"),
    path("manage/cohorts/<int:cohort_id>/", views_manage.cohort_change, name="cohort-change"),
    path("manage/subjects/", views_manage.subjects, name="subjects"),
    path("manage/subjects/move/", views_manage.subjects_move, name="subjects-move"),
    path("manage/phenotypes/", views_manage.phenotypes, name="phenotypes"),
    path("manage/audit/", views_manage.audit, name="audit"),
    path("manage/organisation/", views_manage.organisation, name="organisation"),
    path("models/", views_models.models_home, name="models"),
    path("models/jobs/<int:job_id>/", views_models.model_job, name="model-job"),
    path("models/jobs/<int:job_id>/status.json", views_models.model_job_status, name="model-job-status"),
    path("models/jobs/<int:job_id>/cancel/", views_models.model_job_cancel, name="model-job-cancel"),
    path("models/versions/<int:version_id>/promote/", views_models.model_promote, name="model-promote"),
    path("models/rollback/", views_models.model_rollback, name="model-rollback"),
]
