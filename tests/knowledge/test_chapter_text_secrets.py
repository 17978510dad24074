"""An existing chapter edited as ‹chapter-N› text in the admin carries its secrets (``secret:`` / ``reveal:``
lines): they are shown, an unchanged save keeps them exactly, edits to them are saved, a reveal the story made
stays, and malformed secret lines are refused in words naming the line and the key."""

import html
import re

import pytest
from django.urls import reverse

from accounts.rls import acting_as
from accounts.services import user_become_author
from chapters import chapter_markup, services
from chapters.models import Knowledge, StoryChapter

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db
CHAPTERS = ("‹chapter-1› The Summons\nlocation: harbour\n\nOpen with a summons.\n\n"
            "‹chapter-2› The Bridge\nrequires: 1\nbeats:\n- [high] The guards change shift\n"
            "secret: Hale rang the bell | known by: Hale, faction:smugglers\n"
            "reveal: location: Bell Tower; chapter_beat: The guards change shift\n"
            "secret: The toll is forged\n\nCross at dawn.\n")


@pytest.fixture
def story(alice):
    story = StoryFactory(user=alice, title="Alice's tale")
    with acting_as(alice):
        services.chapters_import(story_id=story.pk, user_id=alice.pk, chapters=chapter_markup.parse(CHAPTERS))
    return story


@pytest.fixture
def author(client, alice):
    user_become_author(user=alice)
    client.force_login(alice)
    return client


def text_url(alice, story, number=2) -> str:
    with acting_as(alice):
        chapter = StoryChapter.objects.get(story=story, number=number)
    return reverse("admin:chapters_storychapter_change", args=[chapter.pk]) + "?as=text"


def shown_text(author, url) -> str:
    page = author.get(url).content.decode()
    return html.unescape(re.search(r'<textarea name="chapter_text"[^>]*>\n?(.*?)</textarea>', page, re.S).group(1))


def secrets(alice, story) -> list[tuple]:
    with acting_as(alice):
        return list(Knowledge.objects.filter(story=story, source=Knowledge.Source.CHAPTER).order_by("id")
                    .values_list("fact", "known_by", "reveal_when", "source_ref", "revealed_at_turn"))


def test_the_text_of_an_existing_chapter_shows_its_secrets_and_round_trips_losslessly(author, alice, story):
    url = text_url(alice, story)
    text = shown_text(author, url)
    assert "secret: Hale rang the bell | known by: Hale, faction:smugglers" in text
    assert "reveal: location: Bell Tower; chapter_beat: The guards change shift" in text
    assert "secret: The toll is forged" in text
    before = secrets(alice, story)
    response = author.post(url, {"story": str(story.pk), "chapter_text": text})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert secrets(alice, story) == before
    assert shown_text(author, url) == text


def test_edits_to_the_secrets_are_saved_and_a_made_reveal_stays(author, alice, story):
    url = text_url(alice, story)
    with acting_as(alice):
        Knowledge.objects.filter(fact="Hale rang the bell").update(revealed_at_turn=4, revealed_by="chapter")
    text = shown_text(author, url)
    edited = (text.replace("known by: Hale, faction:smugglers", "known by: Hale, Orla")
              .replace("secret: The toll is forged\n", "secret: The ferryman is a spy | known by: player\n"
                                                         "reveal: min_turn: 6\n"))
    response = author.post(url, {"story": str(story.pk), "chapter_text": edited})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert secrets(alice, story) == [
        ("Hale rang the bell", ["Hale", "Orla"], {"location": "Bell Tower", "chapter_beat": "The guards change shift"},
         "2", 4),
        ("The ferryman is a spy", ["player"], {"min_turn": 6}, "2", None)]
    assert shown_text(author, url) == edited
    without = "\n".join(line for line in edited.split("\n") if not line.startswith(("secret:", "reveal:")))
    assert author.post(url, {"story": str(story.pk), "chapter_text": without}).status_code == 302
    assert secrets(alice, story) == []


def test_a_chapter_renumbered_as_text_takes_its_secrets_along(author, alice, story):
    url = text_url(alice, story)
    text = shown_text(author, url).replace("‹chapter-2›", "‹chapter-5›")
    assert author.post(url, {"story": str(story.pk), "chapter_text": text}).status_code == 302
    assert {ref for *_, ref, _ in secrets(alice, story)} == {"5"}
    assert "secret: Hale rang the bell" in shown_text(author, url)


@pytest.mark.parametrize(("line", "message"), [
    ("secret: Hale rang the bell | known by: faction:", "Chapter text, line N, secret: A faction in known_by needs"),
    ("reveal: weather: rain", "Chapter text, line N, reveal: unknown reveal condition 'weather'"),
    ("reveal: chapter_completed: two", "Chapter text, line N, reveal: chapter_completed takes chapter numbers"),
])
def test_malformed_secret_lines_are_refused_in_words_and_change_nothing(author, alice, story, line, message):
    url = text_url(alice, story)
    text = shown_text(author, url)
    lines = text.split("\n")
    at = next(index for index, text_line in enumerate(lines) if text_line.startswith("secret: Hale"))
    lines[at] = line
    if line.startswith("reveal:"):
        lines.insert(at, "secret: Orla saw it")
        at += 1
    message = message.replace("line N", f"line {at + 1}")
    before = secrets(alice, story)
    refused = author.post(url, {"story": str(story.pk), "chapter_text": "\n".join(lines)})
    assert refused.status_code == 200 and message in html.unescape(refused.content.decode())
    assert secrets(alice, story) == before


def test_a_chapter_moved_earlier_takes_its_secrets_along(alice, story):
    with acting_as(alice):
        services.chapter_update(chapter=StoryChapter.objects.get(story=story, number=2), required_previous_chapters=[])
        services.chapter_update(chapter=StoryChapter.objects.get(story=story, number=1),
                                secrets=[{"fact": "The harbour is mined", "known_by": ["nobody"], "reveal_when": {}}])
        services.chapter_move(chapter=StoryChapter.objects.get(story=story, number=2), by=-1)
        bridge = StoryChapter.objects.get(story=story, title="The Bridge")
        summons = StoryChapter.objects.get(story=story, title="The Summons")
        assert [s["fact"] for s in services.chapter_secrets(chapter=bridge)] == ["Hale rang the bell",
                                                                                 "The toll is forged"]
        assert [s["fact"] for s in services.chapter_secrets(chapter=summons)] == ["The harbour is mined"]
