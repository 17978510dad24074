"""``{% turn_versions turn as versions %}``: a passage's versions for the story page (versions.py)."""

from django import template

from narrative_pipeline.versions import versions

register = template.Library()


@register.simple_tag
def turn_versions(turn) -> dict:
    every = versions(turn.prose, turn.alternatives or [])
    current = next(version.number for version in every if version.current)
    return {"all": every, "current": current, "count": len(every),
            "previous": current - 1 if current > 1 else None,
            "next": current + 1 if current < len(every) else None}
