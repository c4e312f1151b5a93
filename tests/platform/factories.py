"""Objects for API tests: organisations with members of every role, tokens, and one of everything."""

from __future__ import annotations

import io
import itertools

from django.contrib.auth import get_user_model
from tenancy.actions import create_token
from tenancy.audit import Actor, record
from tenancy.models import Membership, Organisation, Role
from tenancy.scope import organisation_scope

from tests.platform.sessionfiles import session_file_bytes, sha256  # noqa: F401  (re-exported)

_seq = itertools.count(1)


def make_org(slug: str) -> Organisation:
    return Organisation.objects.create(slug=slug, name=f"Org {slug}")


def make_member(org: Organisation, role: str, username: str | None = None):
    user = get_user_model().objects.create_user(username or f"{org.slug}-{role}-{next(_seq)}", password="pw-123456789")
    with organisation_scope(org):
        Membership.objects.create(user=user, role=role)
    return user


def make_token(org: Organisation, role: str, **kw) -> str:
    with organisation_scope(org):
        _, raw = create_token(Actor.system(), name=f"{role}-token", role=role, **kw)
    return raw


def seed_everything(org: Organisation, tag: str, n_sessions: int = 1) -> dict:
    """One (or n) of every tenant-owned object in ``org``; returns them by model name."""
    from cohorts.models import Cohort, PhenotypeLabel, PhenotypeTable, Subject
    from recordings.models import GaitSession, Upload
    from results.models import Embedding, Prediction, QCReport, TaskFeatures

    out: dict[str, list] = {}
    with organisation_scope(org):
        cohort = Cohort.objects.create(name=f"cohort-{tag}")
        subject = Subject.objects.create(cohort=cohort, external_id=f"SUBJ-{tag}", birth_year=1970, sex="female",
                                         consent_research=True)
        out["cohort"], out["subject"] = [cohort], [subject]
        sessions, uploads = [], []
        for i in range(n_sessions):
            s = GaitSession.objects.create(subject=subject, sensor="synthetic", tasks=["walk_in_place"],
                                           n_frames=90, duration_s=3.0, file_key=f"sessions/x/{tag}-{i}",
                                           sha256="0" * 64)
            sessions.append(s)
            uploads.append(Upload.objects.create(idempotency_key=f"{tag}-{i}", subject=subject, format="gait-session",
                                                 size=10, sha256="0" * 64, session=s, status="complete"))
            QCReport.objects.create(session=s, passed=True, metrics={"frames": 90}, tasks=[  # as gaitcore.qc records it
                {"task": "walk_in_place", "start": 0, "n_frames": 90, "duration_s": 3.0, "fraction_missing": 0.0,
                 "fraction_low_confidence": 0.0, "jitter_mm": 2.0, "passed": False,
                 "issues": ["3.0 s long, under the 10 s a model window needs"]}])
            TaskFeatures.objects.create(session=s, task="walk_in_place", values={"cadence": 110.0, "speed": 1.2})
            Embedding.objects.create(session=s, task="walk_in_place", model_name="gaitmae", model_version="t1",
                                     vector=[0.1, 0.2, 0.3])
            Prediction.objects.create(session=s, phenotype="age", body_system="anthropometric", value=50.0,
                                      lower=45.0, upper=55.0, model_name="gaitmae", model_version="t1")
        out["gaitsession"], out["upload"] = sessions, uploads
        out["qcreport"] = list(QCReport.objects.all())
        out["taskfeatures"] = list(TaskFeatures.objects.all())
        out["embedding"] = list(Embedding.objects.all())
        out["prediction"] = list(Prediction.objects.all())
        table = PhenotypeTable.objects.create(name=f"labels-{tag}", cohort=cohort, report={})
        out["phenotypetable"] = [table]
        out["phenotypelabel"] = [PhenotypeLabel.objects.create(table=table, subject=subject, phenotype="bmi", value=24.0)]
        record(Actor.system(), "test.seed", cohort)
        out.update(seed_registry(table, tag))
    for role in (Role.CLINICIAN, Role.VIEWER):
        make_member(org, role, username=f"{tag}-{role}-{next(_seq)}")
        make_token(org, role)
    with organisation_scope(org):
        from tenancy.models import APIToken, AuditEvent

        out["membership"] = list(Membership.objects.all())
        out["apitoken"] = list(APIToken.objects.all())
        out["auditevent"] = list(AuditEvent.objects.all())
    return out


def seed_registry(table, tag: str) -> dict:
    """A finished training job, its predictor version, the champion (then challenger) alias and its event."""
    from registry.models import Alias, AliasEvent, PredictorVersion, TrainingJob

    from tests.registry_support import shipped_encoder

    enc = shipped_encoder()
    job = TrainingJob.objects.create(kind="finetune-heads", state="succeeded", reason="seeded", config={},
                                     config_hash="0" * 64, encoder=enc, label_table=table, snapshot={"sessions": []},
                                     snapshot_hash="1" * 64)
    n = PredictorVersion.objects.count() + 1
    pv = PredictorVersion.objects.create(number=n, name=f"heads-{tag}", encoder=enc, job=job, snapshot_hash="1" * 64,
                                         code_version="test", config={}, config_hash="0" * 64, eval_set_hash="2" * 64,
                                         artifact_key=f"registry/{tag}", arrays_sha256="3" * 64)
    name = "challenger" if Alias.objects.filter(name="champion").exists() else "champion"
    if not Alias.objects.filter(name=name).exists():
        Alias.objects.create(name=name, predictor=pv)
    AliasEvent.objects.create(alias=name, action="assign", to_predictor=pv, reason=f"seed {tag}")
    return {"trainingjob": [job], "predictorversion": [pv], "alias": list(Alias.objects.all()),
            "aliasevent": list(AliasEvent.objects.all())}


def bytes_io(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def totp_code(device, at: float | None = None) -> str:
    """The TOTP code an authenticator app shows now for ``device`` (RFC 6238, computed from its key)."""
    import time

    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = at if at is not None else time.time()
    return f"{totp.token():0{device.digits}d}"


def unused_totp_code(device) -> str:
    """A code the device will accept now: django-otp refuses a time step already used (replay
    protection), so a second sign-in within the same 30 s takes the next step's code (within the
    tolerance of one step), or waits for the step after."""
    import time

    device.refresh_from_db()
    step = int((time.time() - device.t0) // device.step)
    used = device.last_t if device.last_t is not None else -1
    if used < step:
        return totp_code(device)
    if used == step:
        return totp_code(device, at=time.time() + device.step)
    time.sleep((used + 1) * device.step + device.t0 - time.time() + 0.1)
    return totp_code(device, at=time.time() + device.step)


def verified_login(client, user, password: str | None = None):
    """Log ``client`` in as ``user`` (with ``password`` when given); owners and admins also with a confirmed
    TOTP device, as after a sign-in with a code (their pages need it)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from tenancy.logins import needs_second_factor

    if password is None:
        client.force_login(user)
    else:
        assert client.login(username=user.username, password=password)
    if needs_second_factor(user):
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
            user=user, name="test", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client
