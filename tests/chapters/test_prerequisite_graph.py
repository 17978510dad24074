"""The prerequisite graph's layout (chapters.prerequisite_graph), as pure functions."""

from chapters.prerequisite_graph import NODE_WIDTH, graph_layout, layers_by_longest_path


def chapter(number, requires=(), blocked_by=(), alternate_of=None, title=None):
    return {"number": number, "title": title or f"Chapter {number}", "required_previous_chapters": list(requires),
            "blocked_by": list(blocked_by), "alternate_of": alternate_of}


def test_layers_follow_the_longest_chain_of_prerequisites():
    # 5 requires 1 directly and, through 4, a chain three long: it stands after 4, not beside 2 and 3.
    assert layers_by_longest_path({1: [], 2: [1], 3: [1], 4: [2, 3], 5: [1, 4]}) == {1: 0, 2: 1, 3: 1, 4: 2, 5: 3}


def test_a_cycle_is_cut_and_a_missing_prerequisite_left_out():
    layers = layers_by_longest_path({1: [2], 2: [1], 3: [9], 4: [4]})
    assert set(layers) == {1, 2, 3, 4} and layers[3] == 0 and layers[4] == 0
    assert sorted([layers[1], layers[2]]) == [0, 1]


def test_requires_arrows_point_right_blockers_are_their_own_kind_and_alternates_are_marked():
    graph = graph_layout([chapter(1), chapter(2, requires=[1]), chapter(3, requires=[1], blocked_by=[2]),
                          chapter(4, alternate_of=2, title="A much longer title than a box can hold")])
    nodes = {node.number: node for node in graph.nodes}
    assert [(node.layer, node.x) for node in graph.nodes] == [(0, 12), (1, 272), (1, 272), (0, 12)]
    assert nodes[2].y < nodes[3].y and nodes[1].y < nodes[4].y  # number order within a column
    assert [(edge.source, edge.target, edge.kind) for edge in graph.edges] == [
        (1, 2, "requires"), (1, 3, "requires"), (2, 3, "blocked_by")]
    for edge in graph.edges:
        assert edge.path.startswith("M") and " C" in edge.path
    start = graph.edges[0].path.split()[0]
    assert start == f"M{nodes[1].x + NODE_WIDTH},{nodes[1].y + 26}"  # from the right side of chapter 1's box
    assert nodes[4].alternate_of == 2 and nodes[4].label.endswith("…") and len(nodes[4].label) <= 24
    assert graph.layers == 2 and graph.width == 12 * 2 + 2 * NODE_WIDTH + 70


def test_an_empty_story_draws_nothing():
    graph = graph_layout([])
    assert (graph.nodes, graph.edges, graph.layers) == ([], [], 0)


def test_an_arrow_that_skips_a_column_goes_round_below_the_boxes():
    graph = graph_layout([chapter(1), chapter(2, requires=[1]), chapter(3, requires=[2], blocked_by=[1])])
    skipping = next(edge for edge in graph.edges if edge.kind == "blocked_by")
    lowest = max(int(point.split(",")[1]) for point in skipping.path.replace("M", "").replace("C", "").split())
    assert lowest > 12 + 52 and graph.height >= lowest  # under the boxes, inside the drawing
    assert graph_layout([chapter(1), chapter(2, requires=[1])]).height == 12 + 52 + 12  # no room needed
