"""API conventions shared by every app: one error format, pagination, the v1 router.

Every error answers ``{"error": {"status": <int>, "code": "<machine code>", "message": "<text>",
"details": <field errors or extra data, optional>}}``.
"""

from __future__ import annotations

import datetime as dt
import keyword
from operator import attrgetter
from urllib import parse

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import F, Lookup
from django.db.models.query import BaseIterable, ModelIterable
from django.db.models.utils import create_namedtuple_class
from django.http import Http404
from django.utils.encoding import force_str
from django_filters import FilterSet
from django_filters import utils as filter_utils
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, filters, pagination, relations
from rest_framework import fields as f
from rest_framework.views import exception_handler as drf_exception_handler


class APIError(exceptions.APIException):
    """An error with an explicit status, code and details (e.g. an upload's checksum mismatch)."""

    def __init__(self, status: int, code: str, message: str, details=None):
        super().__init__(detail=message, code=code)
        self.status_code = status
        self.code = code
        self.message = message
        self.details = details


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        msg = _first_message(value)
        return msg if key in ("non_field_errors", "detail") else f"{key}: {msg}"
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, APIError):
        body = {"status": exc.status_code, "code": exc.code, "message": exc.message}
        if exc.details is not None:
            body["details"] = exc.details
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else ("invalid" if isinstance(exc, exceptions.ValidationError) else "error")
        body = {"status": response.status_code, "code": code, "message": _first_message(detail)}
        if isinstance(detail, dict | list) and not (isinstance(detail, dict) and set(detail) == {"detail"}):
            body["details"] = detail
    response.data = {"error": body}
    return response


class Pagination(pagination.LimitOffsetPagination):
    """Limit/offset pages. A view may hand over, as ``queryset.count_source``, the same rows in the same
    order without the page's joins and annotations: the count runs on it, and a page past the first is
    found on it first (a "deferred join": the page's ids through the ordering index, then only those rows
    with their joins). Otherwise PostgreSQL joins and sorts every row before the offset -- 8 ms instead of
    1 ms at offset 3,000 of 10,000 sessions."""

    default_limit = 50
    max_limit = 1000

    def get_count(self, queryset):
        return getattr(queryset, "count_source", queryset).count()

    # DRF's next/previous links, with the page's absolute URL built and its query string parsed once per
    # page instead of twice per link (DRF replaces the limit, then the offset, each by a full parse and
    # re-encode of the URL); the links are the same strings (tested against DRF's).
    def get_next_link(self):
        if self.offset + self.limit >= self.count:
            return None
        return self._link(self.offset + self.limit)

    def get_previous_link(self):
        if self.offset <= 0:
            return None
        return self._link(None if self.offset - self.limit <= 0 else self.offset - self.limit)

    def _link(self, offset: int | None) -> str:
        base = getattr(self, "_link_base", None)
        if base is None or base[0] is not self.request:
            scheme, netloc, path, query, fragment = parse.urlsplit(force_str(self.request.build_absolute_uri()))
            params = parse.parse_qs(query, keep_blank_values=True)
            params[self.limit_query_param] = [force_str(self.limit)]
            base = self._link_base = (self.request, (scheme, netloc, path, fragment), params)
        (scheme, netloc, path, fragment), params = base[1], dict(base[2])
        if offset is None:
            params.pop(self.offset_query_param, None)
        else:
            params[self.offset_query_param] = [force_str(offset)]
        return parse.urlunsplit((scheme, netloc, path, parse.urlencode(sorted(params.items()), doseq=True), fragment))

    def paginate_queryset(self, queryset, request, view=None):
        source = getattr(queryset, "count_source", None)
        if source is not None:
            queryset = _DeferredJoin(queryset, source)
        return super().paginate_queryset(queryset, request, view)


class _DeferredJoin:
    """What ``LimitOffsetPagination`` needs of a queryset (count and a slice), sliced as a deferred join."""

    def __init__(self, queryset, source):
        self.queryset, self.count_source = queryset, source

    def count(self) -> int:
        return self.count_source.count()

    def __getitem__(self, page: slice):
        if not page.start:  # the first page: one query walks the ordering index and stops at the limit
            return self.queryset[page]
        return list(self.queryset.filter(InPageIds(F("pk"), self.count_source.values("pk")[page])))


class InPageIds(Lookup):
    """``pk IN (<the page's ids>)``, one statement. On PostgreSQL written ``pk = ANY(ARRAY(<subquery>))``: the
    ids are found once, first (an InitPlan through the ordering index), then only those rows are fetched by
    primary key, joined and sorted in the page's order; ``IN (<subquery>)`` would become a semi-join over
    the whole organisation. SQLite evaluates ``IN (<subquery>)`` once into a temporary index."""

    lookup_name = "in_page_ids"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} IN {rhs}", (*lhs_params, *rhs_params)

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)


class FilterBackend(DjangoFilterBackend):
    """django-filter, with the work limited to the filters a request uses. A filter whose parameter is
    absent filters nothing (django-filter skips empty values), so:

    * a list request whose query string holds nothing but paging and ordering builds no filterset at
      all (a deep copy of every filter and a form: the largest Python cost of a list request);
    * otherwise the filterset's form is built from the filters the query string names (``status``,
      ``created_after``, ``<name>_min``...) only, not from all of them.

    Filtersets with a required filter or their own ``filter_queryset`` always run in full, and the
    browsable API's filter form (``to_html``) still shows every filter."""

    passive_params = frozenset({"limit", "offset", "ordering"})

    def filter_queryset(self, request, queryset, view):
        params = request.query_params
        if self.passive_params.issuperset(params.keys()):
            filterset_class = self.get_filterset_class(view, queryset)
            if filterset_class is None or _filters_nothing_when_empty(filterset_class):
                return queryset
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if _filters_nothing_when_empty(type(filterset)) and not filterset.form_prefix:
            filterset.filters = {name: flt for name, flt in filterset.filters.items() if _named(name, params)}
        if not filterset.is_valid() and self.raise_exception:
            raise filter_utils.translate_validation(filterset.errors)
        return filterset.qs


class OrderingFilter(filters.OrderingFilter):
    """DRF's ``?ordering=``, made total: the primary key is appended (in the direction of the last field)
    unless the ordering already holds it, so that paging through an ordering on a non-unique field
    (``status``, ``role``...) neither repeats nor skips rows between pages. Without the parameter the
    view's or model's own ordering applies, as before."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if not ordering or not request.query_params.get(self.ordering_param):
            return ordering
        pk = queryset.model._meta.pk.name
        if any(field.lstrip("-") in ("pk", pk) for field in ordering):
            return ordering
        return [*ordering, f"-{pk}" if ordering[-1].startswith("-") else pk]


def _named(name: str, params) -> bool:
    """Whether the query string may hold the form field ``name``'s data: a key that starts with the name
    (its own, or a widget's variant: ``<name>_min``, ``<name>_after``, ``<name>[]``...)."""
    return any(key.startswith(name) for key in params)


def _filters_nothing_when_empty(filterset_class) -> bool:
    return filterset_class.filter_queryset is FilterSet.filter_queryset and not any(
        flt.extra.get("required") for flt in filterset_class.base_filters.values())


def _utc_iso(value) -> str:
    if value.tzinfo is not dt.UTC:  # the database's datetimes already are (gaitsite.postgresql)
        value = value.astimezone(dt.UTC)
    return value.isoformat()[:-6] + "Z"  # in UTC, isoformat() ends with "+00:00"


def _utc_iso_is_drf(field) -> bool:
    """True when DRF would render this datetime field as UTC ISO 8601 with a 'Z' (our settings)."""
    from django.conf import settings
    from rest_framework import ISO_8601
    from rest_framework.settings import api_settings

    fmt = getattr(field, "format", api_settings.DATETIME_FORMAT)
    return settings.USE_TZ and settings.TIME_ZONE == "UTC" and fmt in (ISO_8601, None) and \
        api_settings.DATETIME_FORMAT == ISO_8601 and getattr(field, "timezone", None) in (None, dt_utc())


def dt_utc():
    return dt.UTC


def _drf_value(field, instance):
    attribute = field.get_attribute(instance)
    return None if attribute is None else field.to_representation(attribute)


def _compile_plan(serializer_class, plan, paths):
    """The plan as one generated function, ``render(self, obj) -> dict`` (one dict display instead of a loop
    over the fields; a third of the cost per row), or None when a source path is not plain attributes.
    It gives what the field-by-field loop gives, in the same key order; when it meets a missing attribute
    (AttributeError) the caller falls back to the loop, which answers None for that field."""
    env, items = {"_drf": _drf_value}, []
    for i, ((name, getter, conv), path) in enumerate(zip(plan, paths, strict=True)):
        if getter is None and type(conv) is str:  # a method field: self.<method>(obj)
            if not conv.isidentifier() or keyword.iskeyword(conv):
                return None
            expr = f"self.{conv}(obj)"
        elif getter is None:  # through DRF
            env[f"_f{i}"] = conv
            expr = f"_drf(_f{i}, obj)"
        else:
            if not all(part.isidentifier() and not keyword.iskeyword(part) for part in path.split(".")):
                return None
            if conv is None:
                expr = f"obj.{path}"
            else:
                env[f"_c{i}"] = conv
                expr = f"(None if (_v := obj.{path}) is None else _c{i}(_v))"
        items.append(f"{name!r}: {expr}")
    source = "def render(self, obj):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, f"<FastReadMixin plan of {serializer_class.__qualname__}>", "exec"), env)  # noqa: S102
    return env["render"]


class FastReadMixin:
    """A ModelSerializer mixin that serialises read responses through a per-class plan of plain
    attribute getters (DRF's generic field machinery costs most of a list request's time). Fields it
    cannot map simply (method fields, nested serializers) still go through DRF.

    The same plan reads list rows fetched as named tuples instead of model instances (``list_rows``:
    building a model instance per row is a quarter of the cost of a page). A serializer whose method
    field reads only columns of the row says which, in ``row_columns = {"<field>": ("<column>", ...)}``;
    any other field that needs the instance (a property, a related object, a nested serializer, an
    undeclared method field) keeps the serializer on model instances."""

    _plan_cache: dict = {}
    _render_cache: dict = {}
    _columns_cache: dict = {}
    row_columns: dict[str, tuple[str, ...]] = {}

    def _plan(self):
        key = type(self)
        plan = FastReadMixin._plan_cache.get(key)
        if plan is not None:
            return plan
        plan, paths = [], []
        simple = {f.CharField: str, f.IntegerField: int, f.FloatField: float, f.BooleanField: bool,
                  f.JSONField: None, f.ListField: None, f.DictField: None, f.ReadOnlyField: None}
        for field in self._readable_fields:
            name, attrs = field.field_name, field.source_attrs
            paths.append(".".join(attrs))
            if isinstance(field, relations.PrimaryKeyRelatedField) and len(attrs) == 1 and not field.pk_field:
                model_field = self.Meta.model._meta.get_field(attrs[0])
                paths[-1] = model_field.attname
                plan.append((name, attrgetter(model_field.attname), None))
            elif type(field) in simple and attrs and not isinstance(field, f.ChoiceField):
                plan.append((name, attrgetter(".".join(attrs)), simple[type(field)]))
            elif isinstance(field, f.ChoiceField) and attrs:
                plan.append((name, attrgetter(".".join(attrs)), str))
            elif isinstance(field, f.DateTimeField) and attrs and _utc_iso_is_drf(field):
                plan.append((name, attrgetter(".".join(attrs)), _utc_iso))
            elif isinstance(field, f.DateTimeField | f.UUIDField) and attrs:
                plan.append((name, attrgetter(".".join(attrs)), field.to_representation))
            elif isinstance(field, f.SerializerMethodField) and field.source == "*":
                plan.append((name, None, field.method_name))  # DRF calls self.<method_name>(instance)
            else:
                plan.append((name, None, field))
        FastReadMixin._render_cache[key] = _compile_plan(key, plan, paths)
        FastReadMixin._plan_cache[key] = plan
        return plan

    def to_representation(self, instance):
        render = FastReadMixin._render_cache.get(type(self))
        if render is None and type(self) not in FastReadMixin._plan_cache:
            self._plan()
            render = FastReadMixin._render_cache.get(type(self))
        if render is not None:
            try:
                return render(self, instance)
            except AttributeError:  # e.g. a dotted source through a missing object: field by field below
                pass
        return self._represent_by_field(instance)

    def _represent_by_field(self, instance):
        out = {}
        for name, getter, conv in FastReadMixin._plan_cache.get(type(self)) or self._plan():
            if getter is None:
                if type(conv) is str:  # a method field
                    out[name] = getattr(self, conv)(instance)
                    continue
                attribute = conv.get_attribute(instance)  # the DRF way
                out[name] = None if attribute is None else conv.to_representation(attribute)
                continue
            try:
                value = getter(instance)
            except AttributeError:
                value = None
            out[name] = value if value is None or conv is None else conv(value)
        return out

    def _columns(self) -> tuple[list[str], frozenset[str]] | None:
        """(columns of a list row, the names among them that must be annotations of the queryset), or None
        when this serializer needs model instances. Cached per class."""
        key = type(self)
        if key in FastReadMixin._columns_cache:
            return FastReadMixin._columns_cache[key]
        opts = self.Meta.model._meta
        concrete = {}
        for field in opts.concrete_fields:
            concrete[field.attname] = field.attname
            if not field.is_relation:
                concrete[field.name] = field.attname
        columns, annotated = [opts.pk.attname], set()
        getters = {name for name, getter, _ in self._plan() if getter is not None}
        result = None
        for field in self._readable_fields:
            name, attrs = field.field_name, field.source_attrs
            if isinstance(field, f.SerializerMethodField) and name in self.row_columns:
                wanted = list(self.row_columns[name])
            elif name in getters and len(attrs) == 1:
                is_fk = isinstance(field, relations.PrimaryKeyRelatedField)
                wanted = [opts.get_field(attrs[0]).attname if is_fk else attrs[0]]
            else:
                break  # needs the instance
            for column in wanted:
                if column not in concrete:
                    annotated.add(column)  # must be an annotation of the list's queryset (checked per request)
                columns.append(concrete.get(column, column))
        else:
            result = (list(dict.fromkeys(columns)), frozenset(annotated))
        FastReadMixin._columns_cache[key] = result
        return result


def list_rows(queryset, serializer_class):
    """The list's queryset read as named-tuple rows (``RowIterable``) when ``serializer_class`` reads only
    columns and annotations of it (the same query, filters and order; no model instances), or the
    queryset unchanged when the serializer needs model instances. A ``count_source`` (see ``Pagination``)
    is kept."""
    if not issubclass(serializer_class, FastReadMixin) or getattr(queryset, "_iterable_class", None) is not ModelIterable:
        return queryset
    spec = serializer_class._columns_cache.get(serializer_class)
    if spec is None and serializer_class not in FastReadMixin._columns_cache:
        spec = serializer_class()._columns()
    query = queryset.query
    if spec is None or not spec[1] <= query.annotation_select.keys() or query.select_related or query.extra \
            or query.deferred_loading != (frozenset(), True):
        return queryset
    rows = queryset._chain()
    rows._iterable_class = RowIterable
    source = getattr(queryset, "count_source", None)
    if source is not None:
        rows.count_source = source
    return rows


class RowIterable(BaseIterable):
    """A model queryset's rows as named tuples of its columns (by attname) and annotations: the query
    Django runs for model instances, without building a model instance per row. Only for querysets
    without ``select_related``, ``extra`` or deferred fields (``list_rows`` checks)."""

    def __iter__(self):
        queryset = self.queryset
        compiler = queryset.query.get_compiler(using=queryset.db)
        results = compiler.execute_sql(chunked_fetch=self.chunked_fetch, chunk_size=self.chunk_size)
        select, klass_info = compiler.select, compiler.klass_info
        names = [None] * len(select)
        for i in klass_info["select_fields"]:
            names[i] = select[i][0].target.attname
        for name, i in compiler.annotation_col_map.items():
            names[i] = name
        row_class = create_namedtuple_class(*names)
        new = tuple.__new__
        for row in compiler.results_iter(results):
            yield new(row_class, row)
