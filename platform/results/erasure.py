"""Erasure of a subject (GDPR art. 17): everything derived from their recordings goes, provably.

``erase_subject`` removes, for one subject of the current organisation: the subject row, its sessions'
files in storage (stored session files, upload staging chunks and S3 multipart staging), its uploads,
sessions, QC reports, task features, embeddings and predictions, and the cohort summaries that
aggregate them (recomputed by the next aggregate step; no export is cached: exports stream from the
rows). The audit log keeps a pseudonymous record: the ``subject.erase`` event names the subject only by
a keyed hash (HMAC-SHA256 of the organisation and pseudonym under the site's secret key), and earlier
events that named the pseudonym are rewritten to that hash. The returned report (also stored on the
event) proves it: what was removed, how many of each, and every storage key checked absent afterwards.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from tenancy.audit import Actor, record
from tenancy.models import AuditEvent


def subject_hash(subject) -> str:
    """The pseudonym the audit log keeps after erasure (not reversible without the site's secret key)."""
    msg = f"{subject.organisation_id}:{subject.external_id}".encode()
    return "erased:" + hmac.new(settings.SECRET_KEY.encode(), msg, hashlib.sha256).hexdigest()[:24]


def erase_subject(actor: Actor, subject) -> dict:
    from recordings import storage
    from recordings.models import GaitSession, Upload, UploadMode

    from .models import CohortSummary, Embedding, Prediction, QCReport, TaskFeatures

    pseudonym = subject_hash(subject)
    with transaction.atomic():
        sessions = GaitSession.objects.select_for_update().filter(subject=subject)
        session_ids = list(sessions.values_list("pk", flat=True))
        uploads = list(Upload.objects.filter(subject=subject))
        keys = [s.file_key for s in sessions if s.file_key]
        for u in uploads:
            keys += [storage.chunk_name(u, off) for off, _ in u.chunks] + [storage.final_name(u)]
            if u.mode == UploadMode.S3_MULTIPART:
                keys.append(storage.multipart_name(u))
        keys = sorted(set(keys))
        removed = {
            "predictions": Prediction.objects.filter(session_id__in=session_ids).delete()[0],
            "embeddings": Embedding.objects.filter(session_id__in=session_ids).delete()[0],
            "task_features": TaskFeatures.objects.filter(session_id__in=session_ids).delete()[0],
            "qc_reports": QCReport.objects.filter(session_id__in=session_ids).delete()[0],
            "uploads": Upload.objects.filter(subject=subject).delete()[0],
            "sessions": GaitSession.objects.filter(pk__in=session_ids).delete()[0],
            "cohort_summaries": CohortSummary.objects.filter(cohort_id=subject.cohort_id).delete()[0],
            "audit_events_pseudonymised": _pseudonymise_audit(subject, pseudonym),
        }
        subject.delete()
        removed["subjects"] = 1
        event = record(actor, "subject.erase", None, subject=pseudonym, cohort=subject.cohort_id, removed=removed,
                       storage_keys=len(keys))
    # after the commit: the rows are gone, so no reader finds a key whose object is being deleted
    storage.delete_quietly(*keys)
    st = storage.storage()
    still = [k for k in keys if _exists(st, k)]
    report = {
        "subject": pseudonym,
        "erased_at": timezone.now().isoformat(),
        "removed": removed,
        "storage": {"keys_deleted": len(keys) - len(still), "keys_checked_absent": len(keys) - len(still),
                    "keys_still_present": still},
        "complete": not still,
    }
    AuditEvent.objects.filter(pk=event.pk).update(data={**event.data, "report": report})
    return report


def _exists(st, key: str) -> bool:
    try:
        return st.exists(key)
    except Exception:  # noqa: BLE001 - cannot tell: report it as present (never claim an unchecked erasure)
        return True


def _pseudonymise_audit(subject, pseudonym: str) -> int:
    """Earlier audit events about the subject, or with the subject's pseudonym as a value, name the erasure
    hash instead (exact values only: erasing S-1 leaves S-10 alone)."""
    ext = subject.external_id
    mine = Q(object_type="subject", object_id=str(subject.pk))
    n = 0
    for e in AuditEvent.objects.filter(mine | Q(object_repr__contains=ext) | Q(data__icontains=ext)):
        data = _replace_values(e.data, ext, pseudonym)
        about = e.object_type == "subject" and e.object_id == str(subject.pk)
        repr_ = pseudonym if about or e.object_repr == ext else e.object_repr
        if data != e.data or repr_ != e.object_repr:
            e.data, e.object_repr = data, repr_
            e.save(update_fields=["object_repr", "data"])
            n += 1
    return n


def _replace_values(value, old: str, new: str):
    if isinstance(value, dict):
        return {k: _replace_values(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_values(v, old, new) for v in value]
    return new if value == old else value
