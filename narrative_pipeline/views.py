from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from . import selectors


@login_required
def story_detail(request, story_id):
    story = selectors.story_get(user=request.user, story_id=story_id)
    return render(request, "narrative_pipeline/story_detail.html", {"story": story})
