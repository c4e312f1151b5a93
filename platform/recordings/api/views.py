from django.db.models import F
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from gaitsite.api import APIError
from rest_framework import mixins, parsers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from tenancy.api.base import TenantViewSet, ValuesReadMixin
from tenancy.models import Perm

from .. import actions
from ..filtersets import GaitSessionFilterSet, UploadFilterSet
from ..models import GaitSession, Upload, UploadMode
from . import serializers as s


class ChunkParser(parsers.BaseParser):
    """Raw chunk bytes (tus style ``application/offset+octet-stream``), read up to the chunk limit."""

    media_type = "application/offset+octet-stream"

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            return b""
        data = stream.read(actions.MAX_CHUNK_BYTES + 1)
        if len(data) > actions.MAX_CHUNK_BYTES:
            raise APIError(413, "chunk_too_large", f"chunks are limited to {actions.MAX_CHUNK_BYTES} bytes")
        return data


class OctetChunkParser(ChunkParser):
    media_type = "application/octet-stream"


class GaitSessionViewSet(ValuesReadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                         mixins.DestroyModelMixin, TenantViewSet):
    """Recording sessions; created by completing an upload. Status: uploaded -> validating ->
    processing -> done | failed (reason, attempts)."""

    model = GaitSession
    serializer_class = s.GaitSessionSerializer
    filterset_class = GaitSessionFilterSet
    ordering_fields = ["created_at", "recorded_at", "status", "duration_s"]
    write_permission = Perm.WRITE_SUBJECTS
    read_fields = tuple(s.GaitSessionSerializer.Meta.fields)

    def get_queryset(self):
        qs = super().get_queryset()
        if getattr(self, "action", None) in ("list", "retrieve"):  # read_queryset joins the subject's pseudonym
            return qs
        return qs.select_related("subject")

    def read_queryset(self, queryset):
        # The rows carry the subject's pseudonym through a join; a list's count and a deep page's ids are
        # found without it (gaitsite.api.Pagination).
        rows = queryset.annotate(subject_external_id=F("subject__external_id")).values(*self.read_fields)
        rows.count_source = queryset
        return rows

    def perform_update(self, serializer):
        serializer.instance = actions.update_session(self.actor, serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        actions.delete_session(self.actor, instance)

    @extend_schema(request=None, responses=s.GaitSessionSerializer)
    @action(detail=True, methods=["post"])
    def reprocess(self, request, pk=None):
        session = actions.reprocess_session(self.actor, self.get_object())
        return Response(s.GaitSessionSerializer(session).data, status=status.HTTP_202_ACCEPTED)


class UploadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Resumable, checksummed uploads of session files (see ``recordings.actions`` for the protocol)."""

    model = Upload
    serializer_class = s.UploadSerializer
    filterset_class = UploadFilterSet
    ordering_fields = ["created_at", "status"]
    write_permission = Perm.UPLOAD
    counts_as_upload = True  # the upload throttle (GAIT_UPLOAD_RATE) counts this viewset's creates only
    permissions_by_action = {"list": Perm.READ, "retrieve": Perm.READ}

    def get_parsers(self):
        if getattr(self, "request", None) is not None and self.request.method == "PUT":  # only `chunk` is a PUT
            return [ChunkParser(), OctetChunkParser()]
        return super().get_parsers()

    @extend_schema(request=s.UploadCreateSerializer, responses={201: s.UploadSerializer, 200: s.UploadSerializer},
                   parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)])
    def create(self, request):
        data = s.UploadCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        key = request.headers.get("Idempotency-Key") or fields.pop("idempotency_key", None)
        fields.pop("idempotency_key", None)
        if not key:
            raise APIError(400, "idempotency_key_required", "send an Idempotency-Key header (any unique string per file)")
        upload, created = actions.create_upload(self.actor, idempotency_key=key[:200], **fields)
        return Response(s.UploadSerializer(upload).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(responses=s.UploadStatusSerializer)
    def retrieve(self, request, pk=None):
        upload = self.get_object()
        body = s.UploadSerializer(upload).data
        body["parts"] = []  # what S3 holds of a multipart upload still receiving; empty otherwise
        if upload.mode == UploadMode.S3_MULTIPART and upload.status == "receiving":
            parts = actions.s3_parts(upload)
            body["parts"] = [{"part": p["part"], "size": p["size"]} for p in parts]
            body["offset"] = actions.received_offset(upload, parts)
        return Response(body)

    @extend_schema(
        request={"application/offset+octet-stream": OpenApiTypes.BINARY},
        responses=s.UploadSerializer,
        parameters=[OpenApiParameter("Upload-Offset", int, OpenApiParameter.HEADER, required=True),
                    OpenApiParameter("Upload-Checksum", str, OpenApiParameter.HEADER, required=False,
                                     description="sha256 <base64 digest of this chunk>")])
    @action(detail=True, methods=["put"])
    def chunk(self, request, pk=None):
        upload = self.get_object()
        try:
            offset = int(request.headers.get("Upload-Offset", ""))
        except ValueError:
            raise APIError(400, "offset_required", "send the chunk's position in an Upload-Offset header") from None
        data = request.data if isinstance(request.data, bytes) else b""
        expected = request.META.get("CONTENT_LENGTH")
        if expected and expected.isdigit() and int(expected) != len(data):
            raise APIError(400, "incomplete_chunk", f"received {len(data)} of {expected} bytes; nothing stored",
                           {"offset": upload.offset})
        checksum = actions.parse_chunk_checksum(request.headers.get("Upload-Checksum"))
        upload = actions.append_chunk(self.actor, upload, offset=offset, data=data, checksum=checksum)
        return Response(s.UploadSerializer(upload).data)

    @extend_schema(request=s.PresignRequestSerializer, responses=s.PresignedPartSerializer(many=True))
    @action(detail=True, methods=["post"])
    def presign(self, request, pk=None):
        upload = self.get_object()  # first: another organisation's upload is a 404 whatever the body
        data = s.PresignRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(actions.presign_parts(self.actor, upload, data.validated_data["parts"]))

    @extend_schema(request=None, responses={201: s.GaitSessionSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        session = actions.complete_upload(self.actor, self.get_object())
        return Response(s.GaitSessionSerializer(session).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.UploadSerializer)
    @action(detail=True, methods=["post"])
    def abort(self, request, pk=None):
        return Response(s.UploadSerializer(actions.abort_upload(self.actor, self.get_object())).data)
