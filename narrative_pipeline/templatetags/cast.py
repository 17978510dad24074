"""``{% cast_of story as cast %}``: the story's cast for the Cast card (``_cast.html``), so any page that shows a
story includes the card with one line and no view reads the cast for it."""

from django import template

from ..selectors import story_cast

register = template.Library()


@register.simple_tag
def cast_of(story):
    return story_cast(story=story)
