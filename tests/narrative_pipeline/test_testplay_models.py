"""What a test-play may run on and what a model's run costs (narrative_pipeline.testplay), before anything runs."""

from decimal import Decimal

import pytest

from narrative_pipeline.llm.connections import ModelChoice
from narrative_pipeline.testplay import STORY_MODELS, model_options, models_chosen, run_cost

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(settings):
    settings.LLM_PROVIDER, settings.LLM_MODEL = "openai", "paid-model"
    settings.LLM_ALLOWED_MODELS = ["openai:cheap-model"]
    settings.LLM_PRICES = {"paid-model": {"input": 1.0, "output": 2.0}, "cheap-model": {"input": 0.1, "output": 0.2}}
    return settings


def test_the_offline_narrator_comes_first_then_the_story_s_models_then_each_offered_one(alice, paid):
    story = StoryFactory(user=alice)
    story.llm_overrides = {"writer": {"connection": "default", "model": "cheap-model"}}  # as the story's page saves it
    options = model_options(user=alice, story=story)
    assert options[0] == ("", "The offline narrator (free, no model server)")
    assert options[1][0] == STORY_MODELS and "writer: cheap-model" in options[1][1]
    assert [value for value, _ in options[2:]] == ["default:paid-model", "default:cheap-model"]
    assert models_chosen(user=alice, story=story, option="") is None
    story_models = models_chosen(user=alice, story=story, option=STORY_MODELS)
    assert story_models["writer"] == ModelChoice("default", "cheap-model")
    assert story_models["dreamer"] == ModelChoice("default", "paid-model")


def test_a_story_on_the_offline_narrator_offers_no_story_models(alice, settings):
    settings.LLM_PROVIDER = "offline"
    options = model_options(user=alice, story=StoryFactory(user=alice))
    assert [value for value, _ in options] == [""]


def test_the_cost_is_a_call_per_agent_per_turn_at_each_connection_s_prices(paid):
    mixed = {"preprocessor": ModelChoice("default", "cheap-model"), "strategist": ModelChoice("default", "paid-model"),
             "writer": ModelChoice("default", "paid-model"), "dreamer": ModelChoice("offline", "luna-offline-narrator")}
    cost = run_cost(turns=10, models=mixed)
    # A paid call: 3,000 × $1 + 500 × $2 per million = $0.004; a cheap one $0.0004; offline is free: 10 × $0.0084.
    assert cost.calls == 40 and cost.cost_usd == Decimal("0.084")
    assert cost.models == "default: cheap-model, default: paid-model, offline: luna-offline-narrator"
