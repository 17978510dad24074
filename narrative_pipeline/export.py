"""A story, or a published version of one, as readable Markdown."""

from .models import SnapshotItem, Story, StorySnapshot
from .selectors import story_turns
from .snapshots import series_items


def story_markdown(story: Story) -> str:
    turns = story_turns(story=story).filter(status="completed").values_list("number", "action", "prose")
    return _markdown(story, turns)


def snapshot_markdown(snapshot: StorySnapshot) -> str:
    """A published version: its fields and its turns as of that version."""
    turns = sorted(series_items(snapshot.series_id, snapshot.version, SnapshotItem.Kind.TURN).values(),
                   key=lambda item: item[0])
    return _markdown(snapshot, [(number, payload["action"], payload["prose"]) for number, payload in turns])


def _markdown(source, turns) -> str:
    lines = [f"# {source.title}", ""]
    if source.genre:
        lines += [f"*{source.genre}*", ""]
    if source.premise:
        lines += [source.premise.strip(), ""]
    for number, action, prose in turns:
        lines += [f"## Turn {number}", "", f"> {' '.join(action.split())}", "", prose.strip(), ""]
    return "\n".join(lines).rstrip() + "\n"
