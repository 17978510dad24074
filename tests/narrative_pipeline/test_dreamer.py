"""The Dreamer is an agent over contracts: it answers with typed values and touches no rows;
``narrative_pipeline/dreams.py`` stores what it decided (covered by the turn and chapter tests)."""

import ast
from pathlib import Path

from narrative_pipeline.agents import dreamer
from narrative_pipeline.contracts import ChapterDraft, CharacterChange
from narrative_pipeline.llm import Completion


class _Answers:
    """A caller that answers the Dreamer from a script and records nothing."""

    def __init__(self, text: str):
        self.text = text

    def complete(self, request):
        return Completion(text=self.text, prompt_tokens=1, completion_tokens=1, provider="script", model="script")


def test_the_dreamer_answers_with_contracts_and_needs_no_database():
    draft = dreamer.chapter_suggestion(
        _Answers('{"title": "  The Gull  ", "narrative_instructions": "A gull brings word.", '
                 '"suggested_beats": ["A gull lands", {"description": 42}]}'),
        state={"location": "the harbour"}, title="The Drowned Bell", story_so_far="", recent=[])
    assert draft == ChapterDraft(title="The Gull", narrative_instructions="A gull brings word.",
                                 suggested_beats=[{"beat": "A gull lands", "priority": "high"}])
    change = dreamer.character_change(_Answers("Orla is cold and brave."), name="Orla", number=3,
                                      prose="Orla dives. The sea is dark.")
    assert change == CharacterChange(name="Orla", turn_number=3, summary="Orla is cold and brave.")
    assert dreamer.deaths(names=["Orla", "The Abbess"], text="The Abbess was killed by the tide.") == ["The Abbess"]


def test_the_dreamer_agent_reads_and_writes_no_rows():
    tree = ast.parse(Path(dreamer.__file__).read_text())
    modules = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {module for module in modules if module.endswith("models")}, modules
    assert "objects" not in {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
