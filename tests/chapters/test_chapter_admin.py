"""Authors edit chapters in Django admin under RLS as themselves (not superusers)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.rls import acting_as
from accounts.services import user_become_author
from chapters import selectors
from chapters.lore import services as lore
from chapters.models import ChapterProgress, Lorebook, LoreEntry, StoryChapter
from narrative_pipeline.models import AgentCall, Story, Turn

from ..factories import StoryFactory, UserFactory, admin_import

pytestmark = pytest.mark.django_db
TEXT = "‹chapter-1› The Summons\nlocation: harbour\nbeats:\n- [high] A seal arrives\n\nOpen with a summons.\n"


@pytest.fixture
def author(client, alice):
    user_become_author(user=alice)
    client.force_login(alice)
    return client


@pytest.fixture
def story(alice):
    return StoryFactory(user=alice, title="Alice's tale")


def chapter_form(story, **overrides):
    """The chapter editor's fields as a browser posts them: no JSON anywhere."""
    return {"story": str(story.pk), "number": "1", "title": "The Summons", "description": "", "summary": "",
            "locations": "harbour", "critical_character_present": "on",
            "narrative_instructions": "Open with a summons.",
            "suggested_beats-0-beat": "A seal arrives", "suggested_beats-0-priority": "high",
            "suggested_beats-1-beat": "", "suggested_beats-1-priority": "",
            "allow_divergence": "on", "min_similarity_threshold": "0.4", "visibility": "shown", **overrides}


def test_becoming_an_author_from_the_profile(client, bob):
    client.force_login(bob)
    client.post(reverse("become-author"))
    bob.refresh_from_db()
    assert bob.is_staff and not bob.is_superuser
    assert client.get(reverse("admin:chapters_storychapter_changelist")).status_code == 200


def test_an_author_writes_a_chapter_and_its_versions_show_a_diff(author, alice, story):
    response = author.post(reverse("admin:chapters_storychapter_add"), chapter_form(story))
    assert response.status_code == 302, response.content.decode()[:2000]
    with acting_as(alice):
        chapter = StoryChapter.objects.get(story=story, number=1)
        assert chapter.versions.count() == 1
    response = author.post(reverse("admin:chapters_storychapter_change", args=[chapter.pk]),
                           chapter_form(story, narrative_instructions="Open with a storm and a summons."))
    assert response.status_code == 302
    page = author.get(reverse("admin:chapters_storychapter_change", args=[chapter.pk])).content.decode()
    assert "v2 · manual" in page and "<h4>Narrative instructions</h4>" in page
    # Side by side, word-level: v1's column as it was, v2's with only the added words marked.
    assert ('<div class="compare-before"><span class="compare-side">v1</span><div class="diff">Open with a summons.'
            '</div></div><div class="compare-after"><span class="compare-side">v2</span><div class="diff">Open with a '
            '<ins class="addition">storm and a </ins>summons.</div></div>') in page
    assert "<h4>Title</h4>" not in page  # unchanged fields are not shown


def test_a_version_diff_reads_beats_and_conditions_as_lines_not_json(author, alice, story):
    author.post(reverse("admin:chapters_storychapter_add"), chapter_form(story))
    with acting_as(alice):
        chapter = StoryChapter.objects.get(story=story, number=1)
    response = author.post(reverse("admin:chapters_storychapter_change", args=[chapter.pk]), chapter_form(
        story, locations="Old Bridge, North Gate", min_turn="3",
        **{"suggested_beats-1-beat": "The king waits", "suggested_beats-1-priority": "low"}))
    assert response.status_code == 302, response.content.decode()[:2000]
    page = author.get(reverse("admin:chapters_storychapter_change", args=[chapter.pk])).content.decode()
    assert '<div class="diff">Location: <del class="deletion">harbour</del></div>' in page
    assert ('<div class="diff">Location: <ins class="addition">Old Bridge, North Gate\nFrom turn: 3</ins></div>'
            in page)
    assert '[high] A seal arrives<ins class="addition">\n[low] The king waits</ins>' in page
    assert "{&quot;" not in page.split("Version history")[-1]  # no JSON in the history


@pytest.mark.parametrize(("overrides", "message"), [
    ({"suggested_beats-1-beat": "The king refuses"}, "Beats, row 2: choose a priority."),
    ({"suggested_beats-0-priority": "urgent"}, "Beats, row 1: the priority is high, medium or low"),
    ({"required_previous_chapters": "7"}, "Requires: chapter 7 does not exist."),
    ({"blocked_by": "two"}, "Blocked by: “two” is not a chapter number."),
    ({"min_turn": "-1"}, "greater than or equal to 0"),
])
def test_bad_chapters_are_form_errors_in_words(author, alice, story, overrides, message):
    response = author.post(reverse("admin:chapters_storychapter_add"), chapter_form(story, **overrides))
    page = response.content.decode()
    assert response.status_code == 200 and message in page
    assert "Enter a valid JSON" not in page
    with acting_as(alice):
        assert not StoryChapter.objects.filter(story=story).exists()


def test_an_uploaded_chapter_may_require_one_the_story_already_has(author, alice, story):
    assert admin_import(author, story, "c3.txt", "‹chapter-3› The Gate\nlocation: gate\n\nGo.\n".encode()
                        ).status_code == 302
    preview = author.post(reverse("admin:story-chapters-upload", args=[story.pk]), {"file": SimpleUploadedFile(
        "c4.txt", "‹chapter-4› Beyond\nrequires: 3\nlocation: road\n\nOn.\n".encode())})
    assert "which does not exist" not in preview.content.decode() and 'name="token"' in preview.content.decode()
    assert admin_import(author, story, "c4.txt", "‹chapter-4› Beyond\nrequires: 3\nlocation: road\n\nOn.\n"
                        .encode()).status_code == 302
    with acting_as(alice):
        assert list(StoryChapter.objects.filter(story=story).values_list("number", flat=True)) == [3, 4]


def test_upload_and_download_chapter_files(author, alice, story):
    url = reverse("admin:story-chapters-upload", args=[story.pk])
    bad = author.post(url, {"file": SimpleUploadedFile("c.txt", b"\xe2\x80\xb9chapter-1\xe2\x80\xba A\nmood: grim\n")})
    assert "line 2: unknown key" in bad.content.decode()
    assert admin_import(author, story, "c.txt", TEXT.encode()).status_code == 302
    downloaded = author.get(reverse("admin:story-chapters-download", args=[story.pk])).content.decode()
    assert "‹chapter-1› The Summons" in downloaded and "- [high] A seal arrives" in downloaded


def test_an_author_sees_only_their_own_stories_and_chapters(author, story):
    other_author = UserFactory()
    user_become_author(user=other_author)
    theirs = StoryFactory(user=other_author, title="Not Alice's")
    with acting_as(other_author):
        from chapters import chapter_markup, services

        (chapter,) = services.chapters_import(story_id=theirs.pk, user_id=other_author.pk,
                                              chapters=chapter_markup.parse(TEXT))
    listing = author.get(reverse("admin:chapters_storychapter_changelist")).content.decode()
    assert "Not Alice" not in listing
    assert author.get(reverse("admin:chapters_storychapter_change", args=[chapter.pk])).status_code in (302, 404)
    assert author.get(reverse("admin:story-chapters-download", args=[theirs.pk])).status_code == 404
    assert author.get(reverse("admin:narrative_pipeline_story_changelist")).content.decode().count("Not Alice") == 0


def test_preview_in_the_admin(author, alice, story):
    admin_import(author, story, "c.txt", TEXT.encode())
    page = author.post(reverse("admin:story-chapters-preview", args=[story.pk]),
                       {"location": "the harbour", "present_characters": "", "inventory": "", "flags": "",
                        "turn": "2"}).content.decode()
    assert "1. The Summons (v1)" in page and "What the Strategist would see" in page and "[high] A seal arrives" in page
    assert "What the columns mean" in page and "<dt>Tier</dt>" in page and "0 is on track, 1 is far away" in page
    elsewhere = author.post(reverse("admin:story-chapters-preview", args=[story.pk]),
                            {"location": "the forest", "turn": "9"}).content.decode()
    assert "No chapter would be active in this state." in elsewhere and "location" in elsewhere


@pytest.mark.parametrize(("mode", "healed"), [("follow", False), ("wander", True)])
def test_test_play_charts_divergence_and_lists_adaptations(author, alice, story, settings, mode, healed):
    settings.CHAPTER_GRACE_TURNS = 2
    admin_import(author, story, "c.txt", TEXT.encode())
    response = author.post(reverse("admin:story-test-play", args=[story.pk]), {"turns": "8", "mode": mode})
    page = response.content.decode()
    assert response.status_code == 200 and "Divergence per turn" in page and 'id="test-play-data"' in page
    assert ("None: the chapters held." not in page) is healed
    with acting_as(alice):
        from narrative_pipeline.models import Story

        assert not Story.objects.filter(title__startswith="[test-play]").exists()  # the scratch story is gone


def test_test_play_tells_no_chapter_current_from_on_track_and_names_the_tier_that_fired(author, story, settings):
    settings.CHAPTER_GRACE_TURNS = 2
    admin_import(author, story, "c.txt", TEXT.encode())
    followed = author.post(reverse("admin:story-test-play", args=[story.pk]), {"turns": "8", "mode": "follow"})
    rows = followed.content.decode().split("<h2>Turns</h2>")[1]
    assert "No chapter current" in rows  # once the only chapter is done, not a divergence of 0
    assert followed.context["chart"]["no_chapter"][-1] == 1 and followed.context["chart"]["divergence"][-1] is None
    wandered = author.post(reverse("admin:story-test-play", args=[story.pk]), {"turns": "8", "mode": "wander"})
    fired = [point["tier"] for point in wandered.context["result"].points if point["tier"]]
    assert fired and all(tier[0].isupper() and "_" not in tier for tier in fired)  # in words, the turn it fired
    page = wandered.content.decode()
    assert "What the chart and the table show" in page and "No chapter current</dt>" in page


def test_test_play_runs_on_the_offline_narrator_unless_a_model_is_chosen(author, alice, story, settings):
    settings.LLM_PROVIDER, settings.LLM_MODEL = "openai", "paid-model"
    settings.LLM_BASE_URL, settings.LLM_MAX_RETRIES = "http://127.0.0.1:9/v1", 0  # nothing answers there
    settings.LLM_PRICES = {"paid-model": {"input": 1.0, "output": 2.0}}
    admin_import(author, story, "c.txt", TEXT.encode())
    url = reverse("admin:story-test-play", args=[story.pk])
    page = author.get(url).content.decode()
    assert '<option value="" selected>The offline narrator' in page and 'value="default:paid-model"' in page

    ran = author.post(url, {"turns": "3", "mode": "follow", "keep": "on"})
    scratch = ran.context["result"].scratch_story_id
    with acting_as(alice):
        calls = AgentCall.objects.filter(story_id=scratch).exclude(provider="local")  # local: embeddings
        assert set(calls.values_list("provider", flat=True)) == {"offline"}
        assert Turn.objects.filter(story_id=scratch, status="completed").count() == 3

    # A model: first the calls and the estimate (4 agents × 8 turns, 3,000 tokens in and 500 out a call), no run.
    asked = author.post(url, {"turns": "8", "mode": "follow", "model": "default:paid-model"})
    page = asked.content.decode()
    assert asked.context["result"] is None and "<strong>32 model calls</strong>" in page
    assert "about $0.13" in page and 'name="confirmed" value="on"' in page
    with acting_as(alice):
        assert not Story.objects.filter(title__startswith="[test-play]").exclude(pk=scratch).exists()
    # Confirmed, it runs on that model (which does not answer here: the calls are the model's, not offline).
    author.post(url, {"turns": "1", "mode": "follow", "model": "default:paid-model", "confirmed": "on",
                      "keep": "on"})
    with acting_as(alice):
        kept = Story.objects.filter(title__startswith="[test-play]").exclude(pk=scratch).get()
        assert kept.llm_overrides["writer"] == {"connection": "default", "model": "paid-model"}
        assert "offline" not in set(AgentCall.objects.filter(story=kept).values_list("provider", flat=True))


def test_chapter_analytics(author, alice, story, django_capture_on_commit_callbacks):
    admin_import(author, story, "c.txt", TEXT.encode())
    from narrative_pipeline import orchestrator

    with django_capture_on_commit_callbacks(execute=True):
        turn, _ = orchestrator.turn_submit(user=alice, story_id=story.pk, action="I wait at the harbour.",
                                           idempotency_key="a")
        orchestrator.turn_generate(user=alice, turn=turn)
    page = author.get(reverse("admin:chapters-analytics")).content.decode()
    assert "The Summons" in page and 'id="analytics-data"' in page


def test_analytics_counts_each_rung_a_chapter_completed_after(alice):
    """Completed after a nudge or a relax is its own column, not lost between natural and adapted."""
    with acting_as(alice):
        for index, method in enumerate(["natural", "nudged", "relaxed", "relaxed", "adapted", "diverged_alternate"]):
            story = StoryFactory(user=alice)
            chapter = StoryChapter.objects.create(user=alice, story=story, number=1, title="The Lamp")
            ChapterProgress.objects.create(user=alice, story=story, chapter=chapter, upcoming_turn=1,
                                           status="completed", completion_method=method, completed_turn=index + 2)
        [row] = selectors.chapter_analytics(user_id=alice.pk)
    assert (row["natural"], row["nudged"], row["relaxed"], row["adapted"], row["alternate"]) == (1, 1, 2, 1, 1)



def test_analytics_is_linked_from_the_story_and_each_chapter_and_narrowed_to_them(
        author, alice, story, django_capture_on_commit_callbacks):
    admin_import(author, story, "c.txt", TEXT.encode())
    other = StoryFactory(user=alice, title="Another tale")
    admin_import(author, other, "c.txt", TEXT.replace("The Summons", "The Other Door").encode())
    from narrative_pipeline import orchestrator

    for each in (story, other):
        with django_capture_on_commit_callbacks(execute=True):
            turn, _ = orchestrator.turn_submit(user=alice, story_id=each.pk, action="I wait at the harbour.",
                                               idempotency_key=f"a-{each.pk}")
            orchestrator.turn_generate(user=alice, turn=turn)
    analytics = reverse("admin:chapters-analytics")
    story_page = author.get(reverse("admin:narrative_pipeline_story_change", args=[story.pk])).content.decode()
    assert f'<a href="{analytics}?story={story.pk}">Analytics</a>' in story_page
    with acting_as(alice):
        summons = StoryChapter.objects.get(story=story, number=1)
    chapter_page = author.get(reverse("admin:chapters_storychapter_change", args=[summons.pk])).content.decode()
    assert f'<a href="{analytics}?chapter={summons.pk}">How players met this chapter</a>' in chapter_page
    narrowed = author.get(f"{analytics}?story={story.pk}").content.decode()
    assert "The Summons" in narrowed and "The Other Door" not in narrowed
    assert "Chapter analytics of “Alice&#x27;s tale”" in narrowed
    one = author.get(f"{analytics}?chapter={summons.pk}").content.decode()
    assert "Analytics of chapter 1, “The Summons”" in one and "The Other Door" not in one
    assert author.get(f"{analytics}?story=not-a-story").status_code == 404


def test_an_author_accepts_a_suggestion_in_the_admin(author, alice, story):
    from chapters.models import ChapterSuggestion

    with acting_as(alice):
        suggestion = ChapterSuggestion.objects.create(user_id=alice.pk, story=story, title="The Tide Turns",
                                                      summary="A storm.", created_turn=4)
    listing = author.get(reverse("admin:chapters_chaptersuggestion_changelist")).content.decode()
    assert "The Tide Turns" in listing
    author.post(reverse("admin:chapters_chaptersuggestion_changelist"),
                {"action": "accept", "_selected_action": [suggestion.pk]})
    with acting_as(alice):
        assert StoryChapter.objects.get(story=story).title == "The Tide Turns"


def test_prerequisite_graph_and_chapter_inline(author, alice, story):
    text = TEXT + "\n‹chapter-2› The Bridge\nrequires: 1\n\n‹chapter-3› The Tower\nblocked_by: 2\n"
    admin_import(author, story, "c.txt", text.encode())
    page = author.get(reverse("admin:chapters-graph", args=[story.pk])).content.decode()
    assert "No cycle, and every prerequisite exists." in page and "2. The Bridge" in page
    drawn = page.index('<div class="prerequisite-graph">')
    svg = page[drawn:page.index("</svg>", drawn)]
    assert 'role="img"' in svg and "<title id=\"graph-title\">Prerequisite graph of “Alice&#x27;s tale”</title>" in svg
    assert "chapter 2 requires chapter 1; chapter 3 is blocked by chapter 2" in svg  # the description says it too
    assert svg.count('class="edge edge-requires"') == 1 and svg.count('class="edge edge-blocked_by"') == 1
    assert 'stroke-dasharray="6 4"' in svg and ">2. The Bridge</text>" in svg
    assert drawn < page.index("<th>Requires</th>")  # the table stays, below, as text
    assert "<script" not in page[drawn:]
    story_page = author.get(reverse("admin:narrative_pipeline_story_change", args=[story.pk])).content.decode()
    assert "The Tower" in story_page and "Prerequisites" in story_page


def test_reordering_swaps_numbers_and_rewrites_prerequisites(author, alice, story):
    text = TEXT + "\n‹chapter-2› The Bridge\n\n‹chapter-3› The Tower\nrequires: 2\n"
    admin_import(author, story, "c.txt", text.encode())
    with acting_as(alice):
        bridge = StoryChapter.objects.get(story=story, title="The Bridge")
    author.post(reverse("admin:chapters_storychapter_changelist"),
                {"action": "move_earlier", "_selected_action": [bridge.pk]})
    with acting_as(alice):
        order = dict(StoryChapter.objects.filter(story=story).values_list("title", "number"))
        tower = StoryChapter.objects.get(story=story, title="The Tower")
    assert order == {"The Bridge": 1, "The Summons": 2, "The Tower": 3}
    assert tower.required_previous_chapters == [1]  # still the Bridge
    page = author.post(reverse("admin:chapters_storychapter_changelist"),
                       {"action": "move_earlier", "_selected_action": [bridge.pk]}, follow=True).content.decode()
    assert "cannot move further" in page


def test_quick_edits_in_the_story_inline_make_a_version(author, alice, story):
    admin_import(author, story, "c.txt", TEXT.encode())
    with acting_as(alice):
        chapter = StoryChapter.objects.get(story=story)
    url = reverse("admin:narrative_pipeline_story_change", args=[story.pk])
    form = {"title": story.title, "premise": story.premise, "genre": story.genre, "setting": "", "memory": "",
            "authors_note": "", "state": '{"location": "", "present_characters": [], "inventory": [], "flags": []}',
            "llm_overrides": "{}",
            "characters-TOTAL_FORMS": "0", "characters-INITIAL_FORMS": "0",
            "chapters-TOTAL_FORMS": "1", "chapters-INITIAL_FORMS": "1", "chapters-0-id": str(chapter.pk),
            "chapters-0-story": str(story.pk), "chapters-0-title": "The Royal Summons", "chapters-0-visibility": "title",
            "chapters-0-allow_divergence": "on"}
    response = author.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    with acting_as(alice):
        chapter.refresh_from_db()
        assert chapter.title == "The Royal Summons" and chapter.visibility == "title"
        assert chapter.versions.count() == 2


def test_an_admin_delete_the_service_refuses_is_refused(author, alice, story):
    admin_import(author, story, "c.txt", (TEXT + "\n‹chapter-2› The Bridge\nrequires: 1\n").encode())
    with acting_as(alice):
        summons, bridge = StoryChapter.objects.filter(story=story).order_by("number")
    page = author.post(reverse("admin:chapters_storychapter_delete", args=[summons.pk]), {"post": "yes"})
    assert "chapter 2 depends on it" in page.content.decode()
    changelist = reverse("admin:chapters_storychapter_changelist")
    page = author.post(changelist, {"action": "delete_selected", "_selected_action": [summons.pk], "post": "yes"})
    assert "chapter 2 depends on it" in page.content.decode()
    with acting_as(alice):
        assert StoryChapter.objects.filter(story=story).count() == 2
    # Deleting both together leaves nothing depending on them: allowed, one at a time or in bulk.
    author.post(changelist, {"action": "delete_selected", "_selected_action": [summons.pk, bridge.pk], "post": "yes"})
    with acting_as(alice):
        assert not StoryChapter.objects.filter(story=story).exists()


def test_deleting_a_lore_entry_in_the_admin_stops_it_firing(author, alice, story):
    with acting_as(alice):
        book = Lorebook.objects.create(user=alice, story=story, name="Beasts")
        dragon = LoreEntry.objects.create(user=alice, story=story, lorebook=book, keys=["dragon"],
                                          content="Dragons hoard salt.", position=0)
        LoreEntry.objects.create(user=alice, story=story, lorebook=book, keys=["wyrm"], content="Wyrms sleep.",
                                 position=1)

    def fired(action):
        with acting_as(alice):  # the matcher is cached per process between these calls
            turn = lore.lore_for_turn(story_id=story.pk, action=action, recent=[], seed="s")
        return [entry.content for entry in turn.fired]

    assert fired("a dragon and a wyrm") == ["Dragons hoard salt.", "Wyrms sleep."]
    author.post(reverse("admin:chapters_loreentry_delete", args=[dragon.pk]), {"post": "yes"})
    assert fired("a dragon and a wyrm") == ["Wyrms sleep."]
    with acting_as(alice):
        wyrm = LoreEntry.objects.get(lorebook=book)
    author.post(reverse("admin:chapters_loreentry_changelist"),
                {"action": "delete_selected", "_selected_action": [wyrm.pk], "post": "yes"})
    assert fired("a dragon and a wyrm") == []
    author.post(reverse("admin:chapters_lorebook_delete", args=[book.pk]), {"post": "yes"})
    with acting_as(alice):
        assert not Lorebook.objects.filter(pk=book.pk).exists()
    assert book.pk not in lore._matchers  # the process forgot the book's matcher
