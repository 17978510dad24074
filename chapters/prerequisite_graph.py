"""A story's prerequisite graph laid out for drawing (the admin draws it as SVG), as pure functions.

Chapters stand in layers by their longest chain of prerequisites (a chapter nobody requires first is in
layer 0; one that requires a layer-2 chapter is at least in layer 3), left to right, so every "requires"
arrow points right; an arrow that would cross a box goes round below them. "Blocked by" arrows are drawn
dashed and red; alternates are marked. A cycle (which
``services.check_set`` refuses, but a story may hold from before) is cut where it closes, not followed.
"""

from __future__ import annotations

from dataclasses import dataclass

NODE_WIDTH, NODE_HEIGHT = 190, 52
COLUMN_GAP, ROW_GAP, MARGIN = 70, 24, 12
ROUTE_SPACE = 44  # under the boxes, for the arrows that go round them
TITLE_CHARS = 24  # what fits in a box; the full title is the box's tooltip and is in the table below


@dataclass(frozen=True)
class GraphNode:
    number: int
    title: str
    label: str  # "3. The Gate", shortened to fit
    layer: int
    x: int
    y: int
    alternate_of: int | None
    pk: object = None  # the chapter's id, for a link to its editor

    width, height = NODE_WIDTH, NODE_HEIGHT

    @property
    def text_x(self) -> int:
        return self.x + 10

    @property
    def line_y(self) -> tuple[int, int]:
        return self.y + 22, self.y + 40


@dataclass(frozen=True)
class GraphEdge:
    source: int
    target: int
    kind: str  # requires | blocked_by
    path: str  # SVG path data, from the source's box to the target's


@dataclass(frozen=True)
class GraphLayout:
    width: int
    height: int
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    layers: int


def layers_by_longest_path(requires: dict[int, list[int]]) -> dict[int, int]:
    """Each chapter's layer: 0 without prerequisites, else one more than its deepest prerequisite's.
    Prerequisites that are not chapters of the story are left out; a cycle is cut where it closes."""
    layer: dict[int, int] = {}

    def depth(number: int, visiting: frozenset[int]) -> int:
        if number in layer:
            return layer[number]
        found = [depth(required, visiting | {number}) + 1 for required in requires.get(number, [])
                 if required in requires and required not in visiting and required != number]
        layer[number] = max(found, default=0)
        return layer[number]

    for number in sorted(requires):
        depth(number, frozenset())
    return layer


def _shortened(text: str) -> str:
    return text if len(text) <= TITLE_CHARS else text[:TITLE_CHARS - 1].rstrip() + "…"


def _routed_below(source: GraphNode, target: GraphNode) -> bool:
    """An arrow that would cross a box (it skips a column) or not go right goes round below the boxes."""
    return target.layer - source.layer != 1


def _edge_path(source: GraphNode, target: GraphNode, bottom: int) -> str:
    """A curve from the source's right side to the target's left side, or, when ``_routed_below``, from the
    source's bottom down under every box (``bottom``) and up into the target's bottom."""
    if not _routed_below(source, target):
        x1, y1 = source.x + NODE_WIDTH, source.y + NODE_HEIGHT // 2
        x2, y2 = target.x, target.y + NODE_HEIGHT // 2
        bend = (x2 - x1) // 2
        return f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"
    x1, y1 = source.x + NODE_WIDTH // 2 + 20, source.y + NODE_HEIGHT
    x2, y2 = target.x + NODE_WIDTH // 2 - 20, target.y + NODE_HEIGHT
    low = bottom + ROUTE_SPACE - 8
    return f"M{x1},{y1} C{x1},{low} {x2},{low} {x2},{y2}"


def graph_layout(chapters: list[dict]) -> GraphLayout:
    """``chapters``: each a dict with ``number``, ``title``, ``required_previous_chapters``, ``blocked_by``,
    ``alternate_of`` (the number of the chapter it replaces, or None) and optionally ``pk``. Nodes in a layer keep their
    number order, top to bottom."""
    numbers = {chapter["number"] for chapter in chapters}
    layer_of = layers_by_longest_path({chapter["number"]: list(chapter.get("required_previous_chapters") or [])
                                       for chapter in chapters})
    rows_used: dict[int, int] = {}
    nodes: dict[int, GraphNode] = {}
    for chapter in sorted(chapters, key=lambda chapter: chapter["number"]):
        layer = layer_of[chapter["number"]]
        row = rows_used.get(layer, 0)
        rows_used[layer] = row + 1
        nodes[chapter["number"]] = GraphNode(
            number=chapter["number"], title=chapter["title"], label=_shortened(f"{chapter['number']}. {chapter['title']}"),
            layer=layer, x=MARGIN + layer * (NODE_WIDTH + COLUMN_GAP), y=MARGIN + row * (NODE_HEIGHT + ROW_GAP),
            alternate_of=chapter.get("alternate_of"), pk=chapter.get("pk"))
    layers = max(layer_of.values(), default=-1) + 1
    tallest = max(rows_used.values(), default=0)
    bottom = MARGIN + tallest * NODE_HEIGHT + max(tallest - 1, 0) * ROW_GAP
    pairs = [(required, chapter["number"], kind) for chapter in chapters
             for kind, field in (("requires", "required_previous_chapters"), ("blocked_by", "blocked_by"))
             for required in chapter.get(field) or [] if required in numbers and required != chapter["number"]]
    edges = [GraphEdge(source, target, kind, _edge_path(nodes[source], nodes[target], bottom))
             for source, target, kind in pairs]
    routed = any(_routed_below(nodes[source], nodes[target]) for source, target, _ in pairs)
    return GraphLayout(width=2 * MARGIN + layers * NODE_WIDTH + max(layers - 1, 0) * COLUMN_GAP,
                       height=bottom + MARGIN + (ROUTE_SPACE if routed else 0),
                       nodes=list(nodes.values()), edges=edges, layers=layers)
