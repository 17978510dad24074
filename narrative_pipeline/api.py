"""Story and turn API for a WebUI. Views are thin: they validate, call a service, serialize."""

from __future__ import annotations

import contextvars
import json
import queue
import threading

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, transaction
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from accounts.rls import acting_as
from accounts.throttles import ImportThrottle, ModelTestThrottle, RerollThrottle, TurnThrottle
from chapters.lore import importers

from . import budgets, lore_files, orchestrator, replays, selectors, services, snapshots, turn_history, turn_stops
from .contracts import MAX_PROSE_CHARS
from .export import story_markdown
from .llm.check import choices_check, report_data
from .llm.connections import ModelChoice
from .models import Turn
from .serializers import (
    ArcOutput,
    BudgetInput,
    BudgetOutput,
    CharacterInput,
    CharacterOutput,
    EditActionInput,
    ModelsInput,
    ModelsOutput,
    StoryInput,
    StoryOutput,
    StoryPatch,
    TurnDetailOutput,
    TurnInput,
    TurnOutput,
)


class ShortTransactionsApi(GenericAPIView):
    """For views that call the LLM: no request-long transaction; each step acts for the user in its own."""

    @classmethod
    def as_view(cls, **initkwargs):
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    def story(self, story_id):
        with acting_as(self.request.user):
            return selectors.story_get(user=self.request.user, story_id=story_id)


class StoryListApi(GenericAPIView):
    serializer_class = StoryOutput

    def get_queryset(self):
        return selectors.story_list(user=self.request.user).prefetch_related("characters")

    @extend_schema(responses=StoryOutput(many=True), summary="My stories")
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(StoryOutput(page, many=True).data)

    @extend_schema(request=StoryInput, responses={201: StoryOutput}, summary="Create a story")
    def post(self, request):
        data = StoryInput(data=request.data)
        data.is_valid(raise_exception=True)
        story = services.story_create(user=request.user, **data.validated_data)
        return Response(StoryOutput(selectors.story_get(user=request.user, story_id=story.pk)).data,
                        status=status.HTTP_201_CREATED)


class StoryDetailApi(GenericAPIView):
    serializer_class = StoryOutput

    @extend_schema(responses=StoryOutput, summary="One of my stories")
    def get(self, request, story_id):
        return Response(StoryOutput(selectors.story_get(user=request.user, story_id=story_id)).data)

    @extend_schema(request=StoryPatch, responses=StoryOutput,
                   summary="Change a story: any of its fields, and of its state only the keys given")
    def patch(self, request, story_id):
        story = selectors.story_get(user=request.user, story_id=story_id)
        data = StoryPatch(data=request.data)
        data.is_valid(raise_exception=True)
        services.story_update(user=request.user, story=story, **data.validated_data)
        return Response(StoryOutput(selectors.story_get(user=request.user, story_id=story_id)).data)

    @extend_schema(responses={204: None}, summary="Delete one of my stories")
    def delete(self, request, story_id):
        story = selectors.story_get(user=request.user, story_id=story_id)
        services.story_delete(user=request.user, story=story)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CharacterListApi(GenericAPIView):
    serializer_class = CharacterOutput

    @extend_schema(responses=CharacterOutput(many=True), summary="The story's cast")
    def get(self, request, story_id):
        story = selectors.story_get(user=request.user, story_id=story_id)
        page = self.paginate_queryset(story.characters.all())
        return self.get_paginated_response(CharacterOutput(page, many=True).data)

    @extend_schema(request=CharacterInput, responses={201: CharacterOutput}, summary="Add a character")
    def post(self, request, story_id):
        story = selectors.story_get(user=request.user, story_id=story_id)
        data = CharacterInput(data=request.data)
        data.is_valid(raise_exception=True)
        character = services.character_add(user=request.user, story=story, **data.validated_data)
        return Response(CharacterOutput(character).data, status=status.HTTP_201_CREATED)


class TurnListApi(ShortTransactionsApi):
    serializer_class = TurnOutput

    def get_throttles(self):
        return [TurnThrottle()] if self.request.method == "POST" else []

    @extend_schema(responses=TurnOutput(many=True), summary="The story's turns, oldest first")
    def get(self, request, story_id):
        with acting_as(request.user):
            story = selectors.story_get(user=request.user, story_id=story_id)
            page = self.paginate_queryset(selectors.story_turns(story=story))
            return self.get_paginated_response(TurnOutput(page, many=True).data)

    @extend_schema(request=TurnInput, responses={201: TurnOutput, 200: TurnOutput, 409: OpenApiResponse(description="The turn is not in a state for this (a turn pending or failed, not the last)")},
                   summary="Play a turn (the same idempotency key answers 200 with the same turn)")
    def post(self, request, story_id):
        data = TurnInput(data=request.data)
        data.is_valid(raise_exception=True)
        turn, created = orchestrator.turn_submit(user=request.user, story_id=story_id, **data.validated_data)
        if created:
            turn = orchestrator.turn_generate(user=request.user, turn=turn)
        return Response(TurnOutput(turn).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _sse(event: str, data) -> str:
    return f"event: {event}\ndata: {json.dumps(data, cls=DjangoJSONEncoder)}\n\n"


class EventStreamRenderer(BaseRenderer):
    """Lets clients that ask for ``text/event-stream`` in; errors reach them as an ``error`` event."""

    media_type = "text/event-stream"
    format = "event-stream"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return _sse("error", data).encode()


# Who works at each stage of a turn, for the page's "Writing… n s".
STAGE_AGENTS = {"planning": "Strategist", "writing": "Writer"}


class TurnStreamApi(ShortTransactionsApi):
    serializer_class = TurnOutput
    renderer_classes = [JSONRenderer, EventStreamRenderer]
    throttle_classes = [TurnThrottle]

    @extend_schema(request=TurnInput, responses={(200, "text/event-stream"): OpenApiTypes.STR},
                   summary="Play a turn as server-sent events: `turn` (pending), `stage` ({stage, agent}: planning "
                           "by the Strategist, writing by the Writer), `text` pieces, then `done` (the turn, with "
                           "`stopped` true when the player's Stop cut it short)")
    def post(self, request, story_id):
        data = TurnInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user
        turn, created = orchestrator.turn_submit(user=user, story_id=story_id, **data.validated_data)
        events: queue.Queue = queue.Queue()
        stopped = threading.Event()

        def stop_requested() -> bool:
            if turn_stops.turn_stop_requested(turn_id=turn.pk):
                stopped.set()
            return stopped.is_set()

        def write_turn():
            # Its own thread, so a client that disconnects mid-passage loses nothing: the turn
            # is still written and committed.
            try:
                result = orchestrator.turn_generate(
                    user=user, turn=turn, on_text=lambda piece: events.put(("text", {"text": piece})),
                    on_stage=lambda stage: events.put(("stage", {"stage": stage, "agent": STAGE_AGENTS[stage]})),
                    stop_requested=stop_requested,
                ) if created else turn
                events.put(("done", {**TurnOutput(result).data, "stopped": stopped.is_set()}))
            except budgets.BudgetExceeded as refused:  # before any call: the turn is saved as failed
                with acting_as(user):
                    turn.refresh_from_db()
                events.put(("done", {**TurnOutput(turn).data, "stopped": False, "code": refused.code,
                                     **refused.details}))
            except Exception:
                events.put(("done", {**TurnOutput(turn).data, "status": "failed", "stopped": stopped.is_set(),
                                     "error": "Something went wrong on our side; your action is kept. Retry it."}))
                raise
            finally:
                turn_stops.turn_stop_clear(turn_id=turn.pk)
                connections.close_all()

        # In the request's context: its log lines and the tasks it queues keep the request's id.
        threading.Thread(target=contextvars.copy_context().run, args=(write_turn,), name=f"turn-{turn.pk}",
                         daemon=True).start()

        def stream():
            yield _sse("turn", TurnOutput(turn).data)
            while True:
                event, payload = events.get()
                yield _sse(event, payload)
                if event == "done":
                    return

        # Each event is written and flushed as it is yielded: no middleware here buffers a streaming response
        # (no GZipMiddleware; WhiteNoise only answers /static/), runserver and gunicorn's gthread workers
        # send each piece at once (tests/site/test_production_server.py), and X-Accel-Buffering stops nginx.
        response = StreamingHttpResponse(stream(), content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response


class TurnStopApi(ShortTransactionsApi):
    serializer_class = TurnOutput

    @extend_schema(request=None, responses={202: None, 409: OpenApiResponse(description="The turn is not being written")},
                   summary="Stop the Writer of a turn being streamed: the stream ends with the passage written so far "
                           "(`done` with `stopped` true); undo the turn to discard it")
    def post(self, request, story_id, number):
        story = self.story(story_id)
        if not services.can_change_story(request.user, story):
            raise PermissionDenied("You may read this story but not change it.")
        with acting_as(request.user):
            turn = Turn.objects.filter(story=story, number=number).first()
        if turn is None:
            raise orchestrator.TurnRefused(f"There is no turn {number}.", code="not_found")
        if turn.status != Turn.Status.PENDING:
            raise orchestrator.TurnRefused(f"Turn {number} is not being written.")
        turn_stops.turn_stop_request(turn_id=turn.pk)
        return Response(status=status.HTTP_202_ACCEPTED)


class TurnTextInput(serializers.Serializer):
    prose = serializers.CharField(max_length=MAX_PROSE_CHARS, trim_whitespace=False)


class TurnDetailApi(GenericAPIView):
    serializer_class = TurnDetailOutput

    @extend_schema(responses=TurnDetailOutput, summary="One turn, with what the writers' room saw and planned")
    def get(self, request, story_id, number):
        story = selectors.story_get(user=request.user, story_id=story_id)
        return Response(TurnDetailOutput(selectors.turn_get(story=story, number=number)).data)

    @extend_schema(request=TurnTextInput, responses=TurnOutput,
                   summary="Edit a turn's text (on a fork, a turn read from the source becomes an override)")
    def patch(self, request, story_id, number):
        story = selectors.story_get(user=request.user, story_id=story_id)
        if not services.can_change_story(request.user, story):
            raise PermissionDenied("You may read this story but not change it.")
        data = TurnTextInput(data=request.data)
        data.is_valid(raise_exception=True)
        turn = snapshots.turn_text_set(user=request.user, story=story, number=number, prose=data.validated_data["prose"])
        return Response(TurnOutput(turn).data)


class TurnChangeApi(ShortTransactionsApi):
    """Write a turn again through one of the orchestrator's changes."""

    serializer_class = TurnOutput
    throttle_classes = [TurnThrottle]
    change = None

    def post(self, request, story_id, number):
        with acting_as(request.user):
            _may_change(request, story_id)
        return Response(TurnOutput(type(self).change(user=request.user, story_id=story_id, number=number)).data)


@extend_schema_view(post=extend_schema(request=None, responses={200: TurnOutput, 409: OpenApiResponse(description="The turn is not in a state for this (a turn pending or failed, not the last)")},
                                       summary="Write a failed turn again"))
class TurnRetryApi(TurnChangeApi):
    change = orchestrator.turn_retry


@extend_schema_view(post=extend_schema(
    request=None, responses={200: TurnOutput, 409: OpenApiResponse(description="The turn is not in a state for this (a turn pending or failed, not the last)")},
    summary="Another passage for the last turn (the previous one is kept in `alternatives`)"))
class TurnRerollApi(TurnChangeApi):
    throttle_classes = [RerollThrottle]
    change = orchestrator.turn_reroll


class TurnEditOutput(TurnOutput):
    branch = serializers.SerializerMethodField(
        help_text="When an earlier turn was edited: the branch that keeps the story as it was, and the turns "
                  "it kept ({id, title, turns: [first, last]}); null for the last turn.")

    class Meta(TurnOutput.Meta):
        fields = TurnOutput.Meta.fields + ["branch"]

    def get_branch(self, turn) -> dict | None:
        edited = self.context["edited"]
        if edited.branch is None:
            return None
        return {"id": str(edited.branch.pk), "title": edited.branch.title, "turns": [edited.kept_from, edited.kept_to]}


def _may_change(request, story_id):
    story = selectors.story_get_shared(user=request.user, story_id=story_id)
    if not services.can_change_story(request.user, story):
        raise PermissionDenied("You may read this story but not change it.")
    return story


class TurnEditApi(ShortTransactionsApi):
    serializer_class = TurnEditOutput
    throttle_classes = [TurnThrottle]

    @extend_schema(request=EditActionInput, responses={200: TurnEditOutput, 409: OpenApiResponse(description="The turn is not in a state for this (a turn pending or failed, not the story's own)")},
                   summary="Change any turn's action and write it again (an earlier turn's later turns are kept in a branch)")
    def post(self, request, story_id, number):
        with acting_as(request.user):
            _may_change(request, story_id)
        data = EditActionInput(data=request.data)
        data.is_valid(raise_exception=True)
        edited = turn_history.turn_action_edit(user=request.user, story_id=story_id, number=number,
                                               **data.validated_data)
        with acting_as(request.user):
            turn = selectors.turn_get(story=selectors.story_get_shared(user=request.user, story_id=story_id),
                                      number=number)
        return Response(TurnEditOutput(turn, context={"edited": edited}).data)


class TurnUndoApi(GenericAPIView):
    serializer_class = TurnOutput

    @extend_schema(responses={200: TurnOutput, 409: OpenApiResponse(description="The turn is not in a state for this (a turn pending or failed, not the last)")},
                   summary="Undo the last turn (answers with the turn removed; it can be redone until the next action)")
    def delete(self, request, story_id):
        _may_change(request, story_id)
        return Response(TurnOutput(orchestrator.turn_undo(user=request.user, story_id=story_id)).data)


class TurnRedoApi(GenericAPIView):
    serializer_class = TurnOutput

    @extend_schema(request=None, responses={200: TurnOutput, 404: OpenApiResponse(description="No undone turn to bring back")},
                   summary="Redo the turn undone last (until the next action is played)")
    def post(self, request, story_id):
        _may_change(request, story_id)
        turn = turn_history.turn_redo(user=request.user, story_id=story_id)
        story = selectors.story_get_shared(user=request.user, story_id=story_id)
        return Response(TurnOutput(selectors.turn_get(story=story, number=turn.number)).data)


class VersionInput(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text="The version's number, 1 for the first written.")


class TurnChooseApi(GenericAPIView):
    serializer_class = TurnOutput

    @extend_schema(request=VersionInput, responses={200: TurnOutput, 400: OpenApiResponse(description="No such version")},
                   summary="Make one version of a passage the one the story reads (the replaced one stays in `alternatives`)")
    def post(self, request, story_id, number):
        _may_change(request, story_id)
        data = VersionInput(data=request.data)
        data.is_valid(raise_exception=True)
        turn = turn_history.turn_version_choose(user=request.user, story_id=story_id, number=number,
                                                version=data.validated_data["version"])
        return Response(TurnOutput(turn).data)


class ReplayInput(serializers.Serializer):
    connection = serializers.CharField(max_length=40, help_text="A connection's name, as /api/me/models/ lists them.")
    model = serializers.CharField(max_length=120, help_text="One of that connection's models.")


class ReplayOutput(serializers.Serializer):
    id = serializers.IntegerField()
    turn = serializers.IntegerField(source="turn.number")
    connection = serializers.CharField()
    model = serializers.CharField()
    prose = serializers.CharField()
    cost_usd = serializers.DecimalField(max_digits=12, decimal_places=6)
    error = serializers.CharField(help_text="Why the replay wrote nothing (the model server's error), or empty.")
    outcome = serializers.CharField(help_text='"" (open), "kept" or "branched".')


class TurnReplayApi(ShortTransactionsApi):
    serializer_class = ReplayOutput
    throttle_classes = [RerollThrottle]

    @extend_schema(request=ReplayInput, responses={200: ReplayOutput, 400: OpenApiResponse(description="A model the site does not offer"), 409: OpenApiResponse(description="The turn is not written")},
                   summary="Replay a written turn's Writer with another model, from the same briefing and plan; "
                           "the story is unchanged until the replay is kept or branched from")
    def post(self, request, story_id, number):
        with acting_as(request.user):
            _may_change(request, story_id)
        data = ReplayInput(data=request.data)
        data.is_valid(raise_exception=True)
        replay = replays.turn_replay(user=request.user, story_id=story_id, number=number, **data.validated_data)
        with acting_as(request.user):
            return Response(ReplayOutput(replay).data)


class ReplayKeepApi(GenericAPIView):
    serializer_class = TurnOutput

    @extend_schema(request=None, responses=TurnOutput,
                   summary="Make a replay the turn's passage (the passage it replaces stays in `alternatives`)")
    def post(self, request, story_id, number, replay_id):
        _may_change(request, story_id)
        return Response(TurnOutput(replays.replay_keep(user=request.user, story_id=story_id, number=number,
                                                       replay_id=replay_id)).data)


class ReplayBranchApi(GenericAPIView):
    serializer_class = StoryOutput

    @extend_schema(request=None, responses=StoryOutput,
                   summary="A branch of the story ending at this turn with the replay's passage (the story is unchanged)")
    def post(self, request, story_id, number, replay_id):
        _may_change(request, story_id)
        branch = replays.replay_branch(user=request.user, story_id=story_id, number=number, replay_id=replay_id)
        return Response(StoryOutput(branch).data)


class ArcListApi(GenericAPIView):
    serializer_class = ArcOutput

    @extend_schema(responses=ArcOutput(many=True), summary="The story so far, every N turns")
    def get(self, request, story_id):
        story = selectors.story_get(user=request.user, story_id=story_id)
        page = self.paginate_queryset(selectors.story_arcs(story=story))
        return self.get_paginated_response(ArcOutput(page, many=True).data)


AgentCosts = inline_serializer("AgentCosts", {
    "calls": serializers.IntegerField(), "prompt_tokens": serializers.IntegerField(),
    "completion_tokens": serializers.IntegerField(), "cost_usd": serializers.DecimalField(12, 6),
    "cached_tokens": serializers.IntegerField(), "cache_saved_usd": serializers.DecimalField(12, 6),
    "latency_ms_total": serializers.IntegerField(), "latency_ms_avg": serializers.FloatField()})


class CostsApi(GenericAPIView):
    @extend_schema(responses=inline_serializer("StoryCosts", {
        "agents": serializers.DictField(child=AgentCosts), "total": serializers.DictField()}),
        summary="Tokens, cost and latency per agent")
    def get(self, request, story_id):
        story = selectors.story_get(user=request.user, story_id=story_id)
        return Response(selectors.story_costs(story=story))


class StoryBudgetApi(GenericAPIView):
    """The story's own cap and what it spent (its owner's; a co-author's turns count against it too)."""

    serializer_class = BudgetInput

    @extend_schema(responses=BudgetOutput, summary="The story's budget: cap, spent, reserved, remaining, warning")
    def get(self, request, story_id):
        story = selectors.story_get(user=request.user, story_id=story_id)
        return Response(budgets.story_budget(story=story).as_dict())

    @extend_schema(request=BudgetInput, responses=BudgetOutput, summary="Set (or clear with null) the story's cap")
    def patch(self, request, story_id):
        data = BudgetInput(data=request.data)
        data.is_valid(raise_exception=True)
        story = budgets.story_budget_set(user=request.user, story_id=story_id,
                                         budget_usd=data.validated_data["cap_usd"])
        return Response(budgets.story_budget(story=story).as_dict())


class AccountBudgetApi(GenericAPIView):
    """My monthly budget (this calendar month, UTC): the tier's cap or my lower one."""

    serializer_class = BudgetInput

    @extend_schema(responses=BudgetOutput, summary="My monthly budget: cap, spent, reserved, remaining, warning")
    def get(self, request):
        return Response(budgets.account_budget(user=request.user).as_dict())

    @extend_schema(request=BudgetInput, responses=BudgetOutput,
                   summary="Lower my monthly cap (null: the tier's); above the tier's is refused")
    def patch(self, request):
        data = BudgetInput(data=request.data)
        data.is_valid(raise_exception=True)
        budgets.account_budget_set(user=request.user, budget_usd=data.validated_data["cap_usd"])
        return Response(budgets.account_budget(user=request.user).as_dict())


class ModelsApi(GenericAPIView):
    """The player's own model per agent: the default for every story they play (a story's ``llm_overrides``
    come first). Connections are the operator's; a player chooses among them by name."""

    serializer_class = ModelsInput

    def get_object(self):
        """What a PUT changes (``OPTIONS`` describes the input through it): my choices."""
        return selectors.models_overview(user=self.request.user)

    @extend_schema(responses=ModelsOutput, summary="The models on offer and my choice per agent")
    def get(self, request):
        return Response(selectors.models_overview(user=request.user))

    @extend_schema(request=ModelsInput, responses=ModelsOutput,
                   summary="Choose my model per agent (every earlier choice replaced; {} for the site's)")
    def put(self, request):
        data = ModelsInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.model_choices_set(user=request.user, agents=data.validated_data["agents"])
        return Response(selectors.models_overview(user=request.user))


class ModelsTestApi(ShortTransactionsApi):
    """The same check as ``manage.py llm_check`` and the Models page's Test button, for the models my new
    stories would use: per connection its models, per agent latency and what the server supports."""

    throttle_classes = [ModelTestThrottle]

    @extend_schema(request=None, responses=inline_serializer("ModelsTest", {"servers": serializers.ListField()}),
                   summary="Test the models I use: latency, JSON Schema, JSON mode, usage in the stream")
    def post(self, request):
        with acting_as(request.user):
            effective = selectors.models_overview(user=request.user)["effective"]
        reports = choices_check({agent: ModelChoice(**choice) for agent, choice in effective.items()},
                                for_operator=False)
        return Response({"servers": [report_data(report) for report in reports]})


class ExportApi(GenericAPIView):
    @extend_schema(responses={(200, "text/markdown"): OpenApiResponse(OpenApiTypes.STR, "The story as Markdown")},
                   summary="Download the story as Markdown")
    def get(self, request, story_id):
        story = selectors.story_get(user=request.user, story_id=story_id)
        response = HttpResponse(story_markdown(story), content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="story-{story.pk}.md"'
        return response


class LoreFileInput(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.CharField(required=False, allow_blank=True, max_length=40,
                                   help_text="One of the format names; detected from the content when left out.")
    duplicates = serializers.ChoiceField(choices=list(lore_files.DUPLICATE_CHOICES), default="import",
                                         help_text="A book whose entries are already in one of the story's: merge it "
                                                   "into that book, skip it, or import it anyway. A character the "
                                                   "story already has (same name): merge updates its fields and "
                                                   "portrait, skip keeps it, import adds a second one numbered "
                                                   "(\"Orla (2)\").")

    def validate_file(self, upload):
        try:
            importers.check_size(upload.size)  # before reading it
        except importers.FormatError as error:
            raise serializers.ValidationError(str(error)) from error
        return upload


def _lore_file(request) -> dict:
    data = LoreFileInput(data=request.data)
    data.is_valid(raise_exception=True)
    upload = data.validated_data["file"]
    return {"data": upload.read(), "lore_format": data.validated_data.get("format") or None,
            "filename": upload.name or ""}


class LoreImportApi(GenericAPIView):
    throttle_classes = [ImportThrottle]

    @extend_schema(request={"multipart/form-data": LoreFileInput}, responses={201: OpenApiTypes.OBJECT},
                   summary="Import a lore, card, world or chapters file (field `file`, optional `format`) into the "
                           "story, all or nothing")
    def post(self, request, story_id):
        story = selectors.story_get(user=request.user, story_id=story_id)
        if not services.can_change_story(request.user, story):
            raise PermissionDenied("You may read this story but not change it.")
        result = lore_files.import_file(user=request.user, story=story, **_lore_file(request),
                                        duplicates=request.data.get("duplicates", "import"))
        return Response(result, status=status.HTTP_201_CREATED)


class LoreExportApi(GenericAPIView):
    @extend_schema(responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "image/png"): OpenApiTypes.BINARY},
                   summary="Export the story's lore, cast and chapters in a format (`?container=png` for a card "
                           "inside a PNG); the `Luna-Dropped` header lists what the format could not carry")
    def get(self, request, story_id, lore_format):
        story = selectors.story_get(user=request.user, story_id=story_id)
        return lore_files.export_response(story=story, lore_format=lore_format,
                                          container=request.query_params.get("container", ""))


class StoryImportApi(GenericAPIView):
    throttle_classes = [ImportThrottle]

    @extend_schema(request={"multipart/form-data": LoreFileInput}, responses={201: StoryOutput},
                   summary="A new story from a character card or an Infinite Worlds world")
    def post(self, request):
        story = lore_files.story_from_file(user=request.user, **_lore_file(request))
        return Response(StoryOutput(selectors.story_get(user=request.user, story_id=story.pk)).data,
                        status=status.HTTP_201_CREATED)
