"""Cohort-level exports as CSV or Parquet, streamed in keyset-paginated batches (constant memory).

Layouts (one row per ...):

* ``features``: per session, task and feature -- ``subject, session, recorded_at, task, feature, value``
  (long format: feature sets differ by task and grow over time without changing the columns);
* ``embeddings``: per session, task and model -- ``subject, session, task, model_name, model_version,
  e0000 .. e<dim-1>``;
* ``predictions``: per session and phenotype -- ``subject, session, recorded_at, qc_passed, withheld,
  phenotype, display_name, body_system, value, lower, upper, interval_level, unit, unit_ucum, out_of_range,
  model_name, model_version`` (a session whose QC failed: value and interval empty, ``withheld`` says why;
  ``results.verdict``).

Every layout carries the session's recording date and QC verdict (``qc_passed``).

Only subjects who consented to research use are exported. Each batch is read inside the organisation's scope, entered afresh for the batch (the response is
iterated after the view returned).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from gaitsite.api import APIError
from tenancy.audit import Actor, record
from tenancy.scope import organisation_scope

from gaitcore.phenotypes import info

from . import verdict
from .models import Embedding, Prediction, TaskFeatures

BATCH = 2000
FORMATS = {"csv": ("text/csv; charset=utf-8", "csv"), "parquet": ("application/vnd.apache.parquet", "parquet")}


def _batches(org, model, cohort_id: int) -> Iterator[list]:
    last = 0
    while True:
        with organisation_scope(org):
            batch = list(model.objects.filter(session__subject__cohort_id=cohort_id, pk__gt=last,
                                              session__subject__consent_research=True)
                         .select_related("session__subject", "session__qc").order_by("pk")[:BATCH])
        if not batch:
            return
        last = batch[-1].pk
        yield batch


def _rows(org, kind: str, cohort_id: int) -> tuple[list[str], Iterator[tuple]]:
    if kind == "features":
        cols = ["subject", "session", "recorded_at", "qc_passed", "task", "feature", "value"]

        def gen():
            for batch in _batches(org, TaskFeatures, cohort_id):
                for f in batch:
                    rec = verdict.recorded_on(f.session).isoformat()
                    qc = verdict.qc_verdict(f.session)[0]
                    for name, value in sorted(f.values.items()):
                        yield (f.session.subject.external_id, f.session_id, rec, qc, f.task, name,
                               float(value) if isinstance(value, int | float) else None)
        return cols, gen()
    if kind == "predictions":
        cols = ["subject", "session", "recorded_at", "qc_passed", "withheld", "phenotype", "display_name",
                "body_system", "value", "lower", "upper", "interval_level", "unit", "unit_ucum", "out_of_range",
                "model_name", "model_version"]

        def gen():
            for batch in _batches(org, Prediction, cohort_id):
                for p in batch:
                    why = verdict.withheld_reason(p.session)
                    c = info(p.phenotype)
                    shown = (None, None, None) if why else (p.value, p.lower, p.upper)
                    yield (p.session.subject.external_id, p.session_id, verdict.recorded_on(p.session).isoformat(),
                           verdict.qc_verdict(p.session)[0], why, p.phenotype, c.display, p.body_system, *shown,
                           p.interval_level, p.unit, "1" if p.unit == "probability" else c.ucum,
                           "" if why else verdict.flag(p), p.model_name, p.model_version)
        return cols, gen()
    if kind == "embeddings":
        with organisation_scope(org):
            first = (Embedding.objects.filter(session__subject__cohort_id=cohort_id, session__subject__consent_research=True)
                     .order_by("pk").first())
        dim = len(first.vector) if first else 0
        cols = ["subject", "session", "task", "model_name", "model_version", *[f"e{i:04d}" for i in range(dim)]]

        def gen():
            for batch in _batches(org, Embedding, cohort_id):
                for e in batch:
                    vec = [float(x) for x in e.vector][:dim]
                    vec += [None] * (dim - len(vec))
                    yield (e.session.subject.external_id, e.session_id, e.task, e.model_name, e.model_version, *vec)
        return cols, gen()
    raise APIError(400, "unknown_export", f"unknown export {kind!r}")


class _Echo:
    def write(self, value):
        return value


def _csv(cols, rows) -> Iterator[bytes]:
    w = csv.writer(_Echo())
    yield w.writerow(cols).encode()
    buf = []
    for row in rows:
        buf.append(w.writerow(["" if v is None else v for v in row]))
        if len(buf) >= 500:
            yield "".join(buf).encode()
            buf = []
    if buf:
        yield "".join(buf).encode()


class _Sink(io.RawIOBase):
    """A write-only file that hands out what was written so far (for streaming Parquet)."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.pos = 0

    def writable(self):
        return True

    def write(self, b):
        self.parts.append(bytes(b))
        self.pos += len(b)
        return len(b)

    def tell(self):
        return self.pos

    def drain(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def _parquet(kind, cols, rows) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = {"subject", "recorded_at", "task", "feature", "phenotype", "body_system", "unit", "model_name", "model_version",
            "withheld", "display_name", "unit_ucum", "out_of_range"}
    schema = pa.schema([pa.field(c, pa.string() if c in text else pa.int64() if c == "session"
                                 else pa.bool_() if c == "qc_passed" else pa.float64()) for c in cols])
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    batch: list[tuple] = []

    def flush():
        columns = list(zip(*batch, strict=True)) if batch else [[] for _ in cols]
        writer.write_table(pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)],
                                                schema=schema))

    for row in rows:
        batch.append(row)
        if len(batch) >= 5000:
            flush()
            batch = []
            yield sink.drain()
    if batch:
        flush()
    writer.close()
    yield sink.drain()


def stream_export(actor: Actor, cohort, kind: str, file_format: str) -> StreamingHttpResponse:
    if file_format not in FORMATS:
        raise APIError(400, "unknown_file_format", f"file_format must be one of {', '.join(FORMATS)}")
    org = cohort.organisation
    cols, rows = _rows(org, kind, cohort.pk)
    record(actor, f"export.{kind}", cohort, file_format=file_format)
    content_type, ext = FORMATS[file_format]
    body = _csv(cols, rows) if file_format == "csv" else _parquet(kind, cols, rows)
    response = StreamingHttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{cohort.pk}-{kind}.{ext}"'
    return response
