"""Writes of cohorts, subjects and phenotype tables: atomic, audited."""

from __future__ import annotations

import csv
import io
import math

from django.db import transaction
from rest_framework.exceptions import ValidationError
from tenancy.actions import create_object, delete_object, update_object
from tenancy.audit import Actor, record

from .models import Cohort, PhenotypeLabel, PhenotypeTable, Subject


def create_cohort(actor: Actor, **fields) -> Cohort:
    return create_object(actor, Cohort, "cohort.create", **fields)


def update_cohort(actor: Actor, cohort: Cohort, **fields) -> Cohort:
    return update_object(actor, cohort, "cohort.update", **fields)


def delete_cohort(actor: Actor, cohort: Cohort) -> None:
    delete_object(actor, cohort, "cohort.delete")


def create_subject(actor: Actor, **fields) -> Subject:
    return create_object(actor, Subject, "subject.create", **fields)


def update_subject(actor: Actor, subject: Subject, **fields) -> Subject:
    return update_object(actor, subject, "subject.update", **fields)


def delete_subject(actor: Actor, subject: Subject) -> dict:
    """Deleting a subject erases everything recorded of them (``results.erasure``); returns the report."""
    from results.erasure import erase_subject

    return erase_subject(actor, subject)


MAX_PHENOTYPE_ROWS = 100_000


def import_phenotype_table(actor: Actor, *, name: str, cohort: Cohort, data: bytes) -> PhenotypeTable:
    """Validate a CSV of labels row by row: the first column ``subject`` (external id), then one numeric
    column per phenotype. Bad rows are reported (row number and reasons) and skipped; good ones are
    stored. A file with no usable header is refused as a whole."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError({"file": "the file is not UTF-8 text"}) from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or header[0].strip().lower() not in ("subject", "external_id"):
        raise ValidationError({"file": "the first column must be 'subject' (the subject's external id)"})
    phenotypes = [h.strip() for h in header[1:]]
    if not phenotypes or any(not p for p in phenotypes) or len(set(phenotypes)) != len(phenotypes):
        raise ValidationError({"file": "phenotype columns must be named, unique, and at least one"})
    subjects = {s.external_id: s for s in Subject.objects.filter(cohort=cohort)}
    rows, errors, labels, seen = 0, [], [], set()
    for lineno, row in enumerate(reader, start=2):
        if not any(c.strip() for c in row):
            continue
        rows += 1
        if rows > MAX_PHENOTYPE_ROWS:
            raise ValidationError({"file": f"more than {MAX_PHENOTYPE_ROWS} rows"})
        problems = []
        if len(row) != len(header):
            problems.append(f"{len(row)} columns, expected {len(header)}")
        ext = row[0].strip() if row else ""
        subject = subjects.get(ext)
        if subject is None:
            problems.append(f"no subject {ext!r} in cohort {cohort.name}")
        elif ext in seen:
            problems.append(f"subject {ext!r} appears twice")
        values = {}
        for pheno, cell in zip(phenotypes, row[1:], strict=False):
            cell = cell.strip()
            if cell == "":
                continue  # missing value: no label
            try:
                v = float(cell)
            except ValueError:
                problems.append(f"{pheno}: {cell!r} is not a number")
                continue
            if not math.isfinite(v):
                problems.append(f"{pheno}: {cell!r} is not finite")
                continue
            values[pheno] = v
        if problems:
            errors.append({"row": lineno, "subject": ext, "errors": problems})
            continue
        seen.add(ext)
        labels.extend((subject, p, v) for p, v in values.items())
    with transaction.atomic():
        table = PhenotypeTable.objects.create(
            name=name, cohort=cohort, uploaded_by=actor.user, n_rows=rows, n_accepted=rows - len(errors),
            report={"phenotypes": phenotypes, "rows": rows, "accepted": rows - len(errors),
                    "rejected": len(errors), "errors": errors[:1000]},
        )
        PhenotypeLabel.objects.bulk_create(
            [PhenotypeLabel(organisation=table.organisation, table=table, subject=s, phenotype=p, value=v)
             for s, p, v in labels], batch_size=2000)
        record(actor, "phenotype_table.create", table, rows=rows, rejected=len(errors))
    return table


def delete_phenotype_table(actor: Actor, table: PhenotypeTable) -> None:
    delete_object(actor, table, "phenotype_table.delete")


# --- cohort archive, subject moves and bulk import (used by the dashboards' management pages) ------------
def archive_cohort(actor: Actor, cohort: Cohort, archived: bool = True) -> Cohort:
    from django.utils import timezone

    return update_object(actor, cohort, "cohort.archive" if archived else "cohort.restore",
                         archived_at=timezone.now() if archived else None)


@transaction.atomic
def move_subjects(actor: Actor, subjects, cohort: Cohort) -> int:
    moved = 0
    for s in subjects:
        if s.cohort_id != cohort.pk:
            update_object(actor, s, "subject.move", cohort=cohort)
            moved += 1
    return moved


SUBJECT_COLUMNS = ("external_id", "birth_year", "sex", "height_cm", "weight_kg", "consent_research",
                   "consent_model_training")
MAX_SUBJECT_ROWS = 10_000
_TRUE, _FALSE = {"1", "true", "yes", "y"}, {"", "0", "false", "no", "n"}


def import_subjects(actor: Actor, *, cohort: Cohort, data: bytes) -> dict:
    """Bulk-create subjects from a CSV (header: ``external_id,birth_year,sex`` then optionally
    ``height_cm, weight_kg, consent_research, consent_model_training``). Every row is validated on its
    own; good rows are created (each audited), bad ones reported with their row number and reasons.
    Returns ``{"rows", "created", "rejected": [{"row", "external_id", "errors"}]}``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError({"file": "the file is not UTF-8 text"}) from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ("external_id", "birth_year", "sex") if c not in header]
    if missing:
        raise ValidationError({"file": f"missing column(s): {', '.join(missing)}; expected {', '.join(SUBJECT_COLUMNS)}"})
    unknown = [h for h in header if h not in SUBJECT_COLUMNS]
    if unknown:
        raise ValidationError({"file": f"unknown column(s): {', '.join(unknown)}"})
    existing = set(Subject.objects.values_list("external_id", flat=True))
    report = {"rows": 0, "created": 0, "rejected": []}
    with transaction.atomic():
        for n, raw in enumerate(reader, start=2):  # row 1 is the header
            report["rows"] += 1
            if report["rows"] > MAX_SUBJECT_ROWS:
                raise ValidationError({"file": f"at most {MAX_SUBJECT_ROWS} rows per file"})
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            errors, fields = [], {"cohort": cohort, "external_id": row.get("external_id", "")}
            if fields["external_id"] in existing:
                errors.append("external_id already exists")
            for col, conv in (("birth_year", int), ("height_cm", float), ("weight_kg", float)):
                val = row.get(col, "")
                if val == "":
                    if col == "birth_year":
                        errors.append("birth_year is required")
                    continue
                try:
                    fields[col] = conv(val)
                except ValueError:
                    errors.append(f"{col} is not a number: {val!r}")
            fields["sex"] = row.get("sex", "").lower()
            for col in ("consent_research", "consent_model_training"):
                val = row.get(col, "").lower()
                if val not in _TRUE | _FALSE:
                    errors.append(f"{col} must be yes/no, not {val!r}")
                fields[col] = val in _TRUE
            if not errors:
                try:
                    with transaction.atomic():
                        create_subject(actor, **fields)
                    existing.add(fields["external_id"])
                    report["created"] += 1
                    continue
                except ValidationError as exc:
                    errors.extend(f"{k}: {'; '.join(map(str, v))}" if isinstance(v, list) else f"{k}: {v}"
                                  for k, v in exc.detail.items())
            report["rejected"].append({"row": n, "external_id": row.get("external_id", ""), "errors": errors})
        record(actor, "subject.import", cohort, rows=report["rows"], created=report["created"],
               rejected=len(report["rejected"]))
    return report
