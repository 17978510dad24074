"""The marketplace API (the vision's routes under /api/): thin views over services, forks, selectors."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.throttles import PublishThrottle
from narrative_pipeline import selectors as story_selectors
from narrative_pipeline import snapshots
from narrative_pipeline.export import snapshot_markdown
from narrative_pipeline.models import StorySnapshot

from . import display, forks, selectors, services, sync, sync_plan
from .models import AssetKind, ForkRecord, Licence, Listing, Rating, SyncRun


class ListingOutput(serializers.ModelSerializer):
    """A listing of a story, chapter set or character."""

    likes = serializers.IntegerField(read_only=True)
    forks = serializers.IntegerField(read_only=True)
    downloads = serializers.IntegerField(read_only=True)
    version = serializers.IntegerField(read_only=True)
    author = serializers.CharField(source="attribution", read_only=True)

    class Meta:
        model = Listing
        fields = ["id", "kind", "title", "description", "genre", "tags", "licence", "rating", "author", "version",
                  "likes", "forks", "downloads", "published_at", "updated_at"]


class PublishInput(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    genre = serializers.CharField(max_length=60, required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=200), required=False, max_length=20)
    licence = serializers.ChoiceField(choices=Licence.values, default=Licence.CC_BY)
    rating = serializers.ChoiceField(choices=Rating.values, default=Rating.GENERAL)
    changelog = serializers.CharField(max_length=5_000, required=False, allow_blank=True)


class CharacterPublishInput(PublishInput):
    character = serializers.CharField(max_length=120, help_text="The name of the story's character to publish.")


class ForkInput(serializers.Serializer):
    at_turn = serializers.IntegerField(required=False, min_value=0)


class TakeInput(serializers.Serializer):
    story_id = serializers.UUIDField(required=False, help_text="Your story to fork it into (default: a new story).")


class BranchInput(serializers.Serializer):
    at_turn = serializers.IntegerField(min_value=0)


class ReportInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2_000)


def _fork_answer(record) -> Response:
    return Response({"fork_id": str(record.pk), "story_id": str(record.story_id), "at_turn": record.at_turn,
                     "kind": record.kind}, status=status.HTTP_201_CREATED)


class AssetApi(GenericAPIView):
    """A route of /api/marketplace/{stories,chapters,characters}/: ``kind`` is set by the URL."""

    kind = AssetKind.STORY

    def listing(self, listing_id) -> Listing:
        return selectors.listing_get(listing_id, kind=self.kind)


class ListingListApi(AssetApi):
    serializer_class = ListingOutput

    @extend_schema(parameters=[OpenApiParameter(name, str, required=False) for name in (
        "q", "genre", "tags", "tags_mode", "licence", "rating", "sort")], responses=ListingOutput(many=True),
        summary="Browse and search published stories, chapter sets or characters")
    def get(self, request):
        params = request.query_params
        tags = [tag.strip() for tag in params.get("tags", "").split(",") if tag.strip()]
        if len(tags) > services.MAX_TAGS:
            raise serializers.ValidationError({"tags": [f"Filter by at most {services.MAX_TAGS} tags."]})
        rows = selectors.browse(kind=self.kind, q=params.get("q", ""), genre=params.get("genre", ""), tags=tags,
                                tags_mode=params.get("tags_mode", "any"), licence=params.get("licence", ""),
                                rating=params.get("rating", ""), sort=params.get("sort", ""))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ListingOutput(page, many=True).data)


class ListingDetailApi(AssetApi):
    @extend_schema(responses={200: OpenApiTypes.OBJECT},
                   summary="A listing: counts, its opening turns (a story) or contents (chapters, a character), "
                           "lineage, the author's others")
    def get(self, request, listing_id):
        listing = self.listing(listing_id)
        contents = {"opening": selectors.opening(listing)} if self.kind == AssetKind.STORY else {
            "contents": selectors.contents(listing)}
        return Response({**ListingOutput(listing).data, **contents, "lineage": selectors.listing_lineage(listing),
                         "author_others": ListingOutput(selectors.author_others(listing)[:10], many=True).data})


class ListingVersionsApi(AssetApi):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="Its versions, newest first, with what each changed")
    def get(self, request, listing_id):
        return Response({"results": selectors.versions(self.listing(listing_id))})


class PublishApi(AssetApi):
    throttle_classes = [PublishThrottle]

    @extend_schema(request=PublishInput, responses={201: OpenApiTypes.OBJECT},
                   summary="Publish your story {id} (its chapter set, one of its characters: `character`), or a "
                           "new version of it")
    def post(self, request, story_id):
        story = story_selectors.story_get(user=request.user, story_id=story_id)
        data = (CharacterPublishInput if self.kind == AssetKind.CHARACTER else PublishInput)(data=request.data)
        data.is_valid(raise_exception=True)
        listing = services.listing_publish(user=request.user, story=story, kind=self.kind, **data.validated_data)
        return Response({"id": str(listing.pk), "kind": listing.kind, "version": listing.series.latest_version},
                        status=status.HTTP_201_CREATED)


class ForkApi(AssetApi):
    @extend_schema(request=ForkInput, responses={201: OpenApiTypes.OBJECT},
                   summary="Fork a story at its end or at `at_turn`")
    def post(self, request, listing_id):
        data = ForkInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _fork_answer(forks.fork_create(user=request.user, listing_id=listing_id,
                                       at_turn=data.validated_data.get("at_turn")))


class TakeApi(AssetApi):
    @extend_schema(request=TakeInput, responses={201: OpenApiTypes.OBJECT},
                   summary="Take a chapter set or character into your story `story_id` (default: a new story)")
    def post(self, request, listing_id):
        data = TakeInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _fork_answer(forks.asset_take(user=request.user, listing_id=listing_id, kind=self.kind,
                                       story_id=data.validated_data.get("story_id")))


class BranchApi(GenericAPIView):
    @extend_schema(request=BranchInput, responses={201: OpenApiTypes.OBJECT},
                   summary="Branch your story at a turn into a new story of yours")
    def post(self, request, story_id):
        story = story_selectors.story_get(user=request.user, story_id=story_id)
        data = BranchInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _fork_answer(forks.branch_create(user=request.user, story=story, at_turn=data.validated_data["at_turn"]))


class LikeApi(AssetApi):
    @extend_schema(request=None, responses={201: OpenApiTypes.OBJECT, 409: OpenApiResponse(
        description="Already liked")}, summary="Like it (once)")
    def post(self, request, listing_id):
        listing = self.listing(listing_id)
        services.listing_like(user=request.user, listing=listing)
        return Response({"likes": self.listing(listing_id).likes}, status=status.HTTP_201_CREATED)


class ReportApi(AssetApi):
    @extend_schema(request=ReportInput, responses={201: OpenApiTypes.OBJECT}, summary="Report it to the moderators")
    def post(self, request, listing_id):
        listing = self.listing(listing_id)
        data = ReportInput(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.report_create(user=request.user, listing=listing, reason=data.validated_data["reason"])
        return Response({"id": report.pk, "status": report.status}, status=status.HTTP_201_CREATED)


class DownloadApi(AssetApi):
    @extend_schema(responses={(200, "text/markdown"): OpenApiTypes.STR, (200, "text/plain"): OpenApiTypes.STR,
                              (200, "application/json"): OpenApiTypes.OBJECT},
                   summary="Download the latest version (counted once per user): a story as Markdown, a chapter "
                           "set as chapter text, a character as a Character Card V2")
    def get(self, request, listing_id):
        listing = self.listing(listing_id)
        snapshot = StorySnapshot.objects.get(series_id=listing.series_id, version=listing.series.latest_version)
        services.download_count(user=request.user, listing=listing)
        if listing.kind == AssetKind.STORY:
            body, content_type, extension = snapshot_markdown(snapshot), "text/markdown; charset=utf-8", "md"
        else:
            body, content_type, extension = snapshots.snapshot_file(
                snapshot, "chapter_text" if listing.kind == AssetKind.CHAPTERS else "card_v2")
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{listing.pk}.{extension}"'
        return response


class ResolveInput(serializers.Serializer):
    choice = serializers.ChoiceField(choices=["source", "mine", "both"])


def _run_answer(run) -> dict:
    answer = {"id": run.pk, "from_version": run.from_version, "to_version": run.to_version, "applied": run.applied,
              "kept": run.kept, "conflicts": run.conflict_count, "continued": run.continued, "status": run.status,
              "message": display.run_message(run), "items": run.items}
    if run.status == SyncRun.Status.QUEUED:
        answer["progress"] = sync.progress(run)
    if run.error:
        answer["error"] = run.error
    return answer


class ForkRecordOutput(serializers.ModelSerializer):
    fork_id = serializers.UUIDField(source="id", read_only=True)
    listing_id = serializers.UUIDField(source="community_id", read_only=True, allow_null=True,
                                       help_text="The listing forked (null for a branch of your own story).")
    source_latest = serializers.IntegerField(read_only=True, allow_null=True,
                                             help_text="The source's latest version (null if no longer readable).")
    update_available = serializers.SerializerMethodField()

    class Meta:
        model = ForkRecord
        fields = ["fork_id", "kind", "story_id", "listing_id", "source_title", "source_author", "licence", "version",
                  "source_latest", "update_available", "at_turn", "chapter_offset", "created_at"]

    def get_update_available(self, record) -> bool:
        return record.source_latest is not None and record.source_latest > record.version


class ForkListApi(GenericAPIView):
    serializer_class = ForkRecordOutput

    @extend_schema(responses=ForkRecordOutput(many=True), summary="Your forks, branches and the chapter sets and characters you took, with whether the "
                           "source has a newer version")
    def get(self, request):
        rows = selectors.fork_records_of_user(user=request.user)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ForkRecordOutput(page, many=True).data)


class SyncApi(GenericAPIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="The fork's last sync (with progress while queued)")
    def get(self, request, fork_id):
        record = selectors.fork_record_get(fork_id)  # 404 for another user's fork
        run = record.sync_runs.order_by("-created_at").first()
        return Response({"fork_id": str(record.pk), "version": record.version,
                         "last_sync": _run_answer(run) if run else None})

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT, 202: OpenApiTypes.OBJECT,
                                            409: OpenApiResponse(description="A sync of this fork is running")},
                   summary="Sync the fork with its source's latest version: 200 with applied, kept, conflicts and the "
                           "named items, or 202 when it runs in the background (follow it with GET); with `to_version` "
                           "(from the preview), 409 if the source has moved on since")
    def post(self, request, fork_id):
        previewed = request.data.get("to_version")
        if previewed is not None and not isinstance(previewed, int):
            raise serializers.ValidationError({"to_version": ["to_version is a version number."]})
        run = sync.fork_sync(user=request.user, fork_id=fork_id, to_version=previewed)
        queued = run.status == SyncRun.Status.QUEUED
        return Response(_run_answer(run), status=status.HTTP_202_ACCEPTED if queued else status.HTTP_200_OK)


class SyncPreviewApi(GenericAPIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="What a sync would change, item by item, written "
                   "nowhere: `items` ({kind, key, change: update/add/removed/conflict, label}) and `to_version` (post "
                   "it to the sync to apply exactly this version)")
    def get(self, request, fork_id):
        selectors.fork_record_get(fork_id)  # 404 for another user's fork
        return Response(sync_plan.sync_preview(user=request.user, fork_id=fork_id))


class SyncUndoApi(GenericAPIView):
    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT, 409: OpenApiResponse(
        description="Nothing to undo, a sync running, or resolutions to keep")}, summary="Undo the fork's last sync")
    def post(self, request, fork_id):
        return Response(_run_answer(sync.sync_undo(user=request.user, fork_id=fork_id)))


class ConflictListApi(GenericAPIView):
    @extend_schema(parameters=[OpenApiParameter("state", str, required=False, enum=["open", "resolved", "all"])],
                   responses={200: OpenApiTypes.OBJECT},
                   summary="The fork's conflicts (open ones by default): turns, chapters, lore, characters")
    def get(self, request, fork_id):
        selectors.fork_record_get(fork_id)  # 404 for another user's fork
        state = request.query_params.get("state", "open")
        if state not in ("open", "resolved", "all"):
            raise serializers.ValidationError({"state": ["state is open, resolved or all."]})
        rows = selectors.fork_conflicts(fork_id=fork_id, state=state)
        return Response({"results": [{"id": row.pk, "kind": row.kind, "key": row.key,
                                      "label": display.conflict_label(row), "turn_number": row.turn_number,
                                      "base_text": row.base_text, "source_text": row.source_text,
                                      "fork_text": row.fork_text, "choice": row.choice or None}
                                     for row in rows]})


class ConflictResolveApi(GenericAPIView):
    @extend_schema(request=ResolveInput, responses={200: OpenApiTypes.OBJECT, 409: OpenApiResponse(
        description="Already resolved, or a sync running")},
                   summary="Resolve a conflict: `source`, `mine` or `both` (a second resolve is 409)")
    def post(self, request, fork_id, conflict_id):
        data = ResolveInput(data=request.data)
        data.is_valid(raise_exception=True)
        conflict = sync.conflict_resolve(user=request.user, fork_id=fork_id, conflict_id=conflict_id,
                                choice=data.validated_data["choice"])
        return Response({"id": conflict.pk, "kind": conflict.kind, "key": conflict.key,
                         "turn_number": conflict.turn_number, "choice": conflict.choice,
                         "message": display.resolved_message(conflict)})
