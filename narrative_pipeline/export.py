"""A story as readable Markdown."""

from .models import Story
from .selectors import story_turns


def story_markdown(story: Story) -> str:
    lines = [f"# {story.title}", ""]
    if story.genre:
        lines += [f"*{story.genre}*", ""]
    if story.premise:
        lines += [story.premise.strip(), ""]
    for turn in story_turns(story=story).filter(status="completed"):
        action = " ".join(turn.action.split())
        lines += [f"## Turn {turn.number}", "", f"> {action}", "", turn.prose.strip(), ""]
    return "\n".join(lines).rstrip() + "\n"
