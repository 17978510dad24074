from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.quotas import QuotaExceeded
from accounts.throttles import rate_limited
from chapters.admin.chapter_editor import ChapterInline, chapter_inline_save
from chapters.knowledge import rules as knowledge_rules
from core.forms import form_error_from

from .llm.connections import choices_validate, connection_names_reserved
from .llm.sealed import seal
from .models import AgentCall, Character, ModelConnection, Story, StoryCollaborator, Turn
from .services import can_change_story, collaborator_add, collaborator_remove
from .story_admin_pages import story_admin_urls
from .testplay import OFFLINE_RUN, model_options, models_chosen, run_cost, test_play


class CharacterForm(forms.ModelForm):
    class Meta:
        model = Character
        fields = ["name", "description", "personality", "is_player", "factions", "known_by", "reveal_when"]

    def clean(self):
        cleaned = super().clean()
        for field, check in (("factions", knowledge_rules.factions_validate),  # who knows what (issue #20)
                             ("known_by", knowledge_rules.audience_validate),
                             ("reveal_when", knowledge_rules.reveal_validate)):
            try:
                cleaned[field] = check(cleaned.get(field))
            except knowledge_rules.KnowledgeError as error:
                self.add_error(field, str(error))
        return cleaned


class CharacterInline(admin.TabularInline):
    model = Character
    form = CharacterForm
    extra = 0
    fields = ["name", "description", "personality", "is_player", "factions", "known_by", "reveal_when"]


class ShareForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=StoryCollaborator.Role.choices)


class TestPlayForm(forms.Form):
    turns = forms.IntegerField(min_value=1, max_value=60, initial=20)
    mode = forms.ChoiceField(choices=[("follow", "Follow the chapters"), ("wander", "Wander off")])
    model = forms.ChoiceField(label="Runs on", required=False, initial=OFFLINE_RUN, help_text=(
        "The offline narrator costs nothing. A model is asked once per agent (four) per turn: you see the number "
        "of calls and an estimate of the cost before it runs."))
    keep = forms.BooleanField(required=False, help_text="Keep the scratch story to read it afterwards.")
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, options: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = options


class StoryAdminForm(forms.ModelForm):
    def clean_llm_overrides(self):
        return choices_validate(self.cleaned_data["llm_overrides"])


@admin.register(Story)
class StoryAdmin(admin.ModelAdmin):
    form = StoryAdminForm
    list_display = ["title", "genre", "updated_at"]
    search_fields = ["title", "premise"]
    fields = ["title", "premise", "genre", "setting", "memory", "authors_note", "state", "llm_overrides", "chapters"]
    inlines = [CharacterInline]

    def get_inlines(self, request, obj):
        return [CharacterInline, ChapterInline]

    readonly_fields = ["chapters"]

    def has_add_permission(self, request):
        return False  # stories are created by their players (quota, storage), not here

    actions = ["test_play_action"]

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or can_change_story(request.user, obj))

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [path("<uuid:story_id>/test-play/", wrap(rate_limited("turns")(self.test_play_view)),
                     name="story-test-play"),
                path("<uuid:story_id>/share/", wrap(self.share_view), name="story-share"),
                *story_admin_urls(self), *super().get_urls()]

    def share_view(self, request, story_id):
        """The owner lets co-authors into the story, to read it or to edit its chapters too."""
        story = get_object_or_404(self.get_queryset(request), pk=story_id, user_id=request.user.pk)
        form = ShareForm(request.POST or None)
        if request.method == "POST" and "remove" in request.POST:
            grant = get_object_or_404(StoryCollaborator, story=story, pk=request.POST["remove"])
            collaborator_remove(owner=request.user, grant=grant)
            messages.success(request, f"{grant.collaborator_username} no longer shares “{story.title}”.")
            return redirect("admin:story-share", story.pk)
        if request.method == "POST" and form.is_valid():
            try:
                collaborator_add(owner=request.user, story=story, **form.cleaned_data)
            except ValidationError as error:
                form_error_from(form, error)
            else:
                messages.success(request, f"“{story.title}” is shared with {form.cleaned_data['username']}.")
                return redirect("admin:story-share", story.pk)
        context = {**self.admin_site.each_context(request), "form": form, "story": story,
                   "grants": StoryCollaborator.objects.filter(story=story), "title": f"Share “{story.title}”",
                   "opts": self.model._meta}
        return render(request, "admin/narrative_pipeline/share.html", context)

    @admin.display(description="Chapters")
    def chapters(self, story):
        return format_html(
            '<a href="{}?story__id__exact={}">Edit chapters</a> · <a href="{}">Preview</a> · '
            '<a href="{}">Test-play</a> · <a href="{}">Import a file</a> · <a href="{}">Download chapters</a> · '
            '<a href="{}">Share</a> · <a href="{}">Prerequisites</a> · <a href="{}?story={}">Analytics</a>',
            reverse("admin:chapters_storychapter_changelist"), story.pk,
            reverse("admin:story-chapters-preview", args=[story.pk]),
            reverse("admin:story-test-play", args=[story.pk]),
            reverse("admin:story-chapters-upload", args=[story.pk]),
            reverse("admin:story-chapters-download", args=[story.pk]),
            reverse("admin:story-share", args=[story.pk]),
            reverse("admin:chapters-graph", args=[story.pk]), reverse("admin:chapters-analytics"), story.pk)

    @admin.action(description="Test-play the chapters of the selected story")
    def test_play_action(self, request, queryset):
        return redirect("admin:story-test-play", queryset.first().pk)

    def test_play_view(self, request, story_id):
        """N scripted turns in a scratch copy, then the divergence per turn and the adaptations."""
        story = get_object_or_404(self.get_queryset(request), pk=story_id)
        form = TestPlayForm(request.POST or None, options=model_options(user=request.user, story=story))
        result = cost = None
        if request.method == "POST" and form.is_valid():
            run = {field: form.cleaned_data[field] for field in ("turns", "mode", "keep")}
            models = models_chosen(user=request.user, story=story, option=form.cleaned_data["model"])
            if models is not None and not form.cleaned_data["confirmed"]:
                cost = run_cost(turns=run["turns"], models=models)  # shown first; the author confirms
            else:
                try:
                    result = test_play(user=request.user, story=story, models=models, **run)
                except QuotaExceeded as error:
                    form_error_from(form, error)
        context = {**self.admin_site.each_context(request), "form": form, "story": story, "result": result,
                   "cost": cost,
                   "title": f"Test-play “{story.title}”", "opts": self.model._meta,
                   "chart": {"turns": [p["turn"] for p in result.points],
                             "divergence": [p["divergence"] for p in result.points],
                             "no_chapter": [1 if p["chapter"] is None else None for p in result.points]}
                   if result else None}
        return render(request, "admin/narrative_pipeline/test_play.html", context)

    def save_formset(self, request, form, formset, change):
        if formset.model is ChapterInline.model:
            chapter_inline_save(formset)
            return
        for character in formset.save(commit=False):
            character.user_id = form.instance.user_id
            character.save()
        for deleted in formset.deleted_objects:
            deleted.delete()


@admin.register(Turn)
class TurnAdmin(admin.ModelAdmin):
    list_display = ["story", "number", "status", "created_at"]
    list_filter = ["status"]
    readonly_fields = ["story", "number", "action", "prose", "status", "error", "alternatives", "briefing",
                       "template", "retrieved_turns", "state_before", "created_at", "completed_at"]
    exclude = ["idempotency_key", "storage_bytes"]

    def has_add_permission(self, request):
        return False


@admin.register(AgentCall)
class AgentCallAdmin(admin.ModelAdmin):
    list_display = ["story", "agent", "provider", "model", "prompt_tokens", "completion_tokens", "cost_usd",
                    "latency_ms", "status", "created_at"]
    list_filter = ["agent", "provider", "status"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ModelConnectionForm(forms.ModelForm):
    """The key is write-only: never rendered back (not even masked), kept when the field is left empty."""

    api_key = forms.CharField(required=False, strip=True, widget=forms.PasswordInput(render_value=False),
                              help_text="Leave empty to keep the stored key. It is stored sealed and never shown.")
    remove_key = forms.BooleanField(required=False, help_text="Forget the stored key (for a server without one).")

    class Meta:
        model = ModelConnection
        fields = ["name", "label", "base_url", "offered_models", "prices", "enabled"]

    def clean_name(self):
        name = self.cleaned_data["name"]
        if name in connection_names_reserved():
            raise ValidationError(f"“{name}” is taken by a connection the site defines itself; choose another name.")
        return name

    def clean_base_url(self):
        base_url = self.cleaned_data["base_url"].strip().rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError("Give the server's http(s) address, e.g. http://ollama:11434/v1.")
        return base_url

    def clean_offered_models(self):
        models = self.cleaned_data["offered_models"]
        if not isinstance(models, list) or not all(isinstance(model, str) and model.strip() for model in models):
            raise ValidationError('Give a list of model names, e.g. ["llama3.1:8b", "qwen3:14b"].')
        return [model.strip() for model in models]

    def clean_prices(self):
        prices = self.cleaned_data["prices"] or {}
        valid = isinstance(prices, dict) and all(
            isinstance(price, dict) and set(price) <= {"input", "output"}
            and all(isinstance(value, int | float) and value >= 0 for value in price.values())
            for price in prices.values())
        if not valid:
            raise ValidationError('Give USD per million tokens per model, e.g. {"gpt-4o-mini": {"input": 0.15, '
                                  '"output": 0.6}}.')
        return prices

    def save(self, commit=True):
        connection = super().save(commit=False)
        if self.cleaned_data.get("remove_key"):
            connection.api_key_sealed = ""
        elif self.cleaned_data.get("api_key"):
            connection.api_key_sealed = seal(self.cleaned_data["api_key"])
        if commit:
            connection.save()
        return connection


@admin.register(ModelConnection)
class ModelConnectionAdmin(admin.ModelAdmin):
    """Operators only: a connection is the site's money and its servers' addresses."""

    form = ModelConnectionForm
    list_display = ["name", "label", "base_url", "enabled", "has_key", "updated_at"]
    fields = ["name", "label", "base_url", "api_key", "remove_key", "offered_models", "prices", "enabled"]

    @admin.display(boolean=True, description="key stored")
    def has_key(self, connection):
        return bool(connection.api_key_sealed)

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
