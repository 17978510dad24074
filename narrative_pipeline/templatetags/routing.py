"""How the writers' room names where an agent's model came from (``AgentCall.routing``)."""

from django import template

register = template.Library()

ROUTING_TEXT = {"story": "this story's choice", "account": "your choice", "operator": "site default",
                "replay": "a replay"}


@register.filter
def routing_text(routing: str) -> str:
    return ROUTING_TEXT.get(routing, "—")  # calls recorded before routing was, and local work
