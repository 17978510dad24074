"""A newcomer signs up, sees their quotas, logs out and back in, in a real browser."""

import re

import pytest
from django.core import mail

from accounts.models import User

from ..conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 360], ids=["desktop", "phone"])
def test_sign_up_profile_log_out_and_in(page_at, width):
    page = page_at(width)
    page.goto("/")
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Username").fill(f"wren{width}")
    page.get_by_label("Email").fill(f"wren{width}@example.com")
    page.locator("#id_password").fill("moonlit-harbour-77")
    page.locator("#id_password_again").fill("moonlit-harbour-77")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/accounts/signup/sent/")
    assert page.get_by_text("Check your e-mail to continue").is_visible()
    page.goto(re.search(r"https?://[^/\s]+(/\S+)", mail.outbox[-1].body).group(1))  # the link in the e-mail
    assert page.get_by_text(f"wren{width}@example.com is confirmed").is_visible()

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(f"wren{width}")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_text("Please enter a correct username and password").is_visible()
    page.get_by_label("Password").fill("moonlit-harbour-77")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/stories/")
    assert User.objects.filter(username=f"wren{width}").exists()
    page.goto("/accounts/profile/")
    assert page.get_by_role("heading", name="Quota usage").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the screen
    screenshot(page, "profile", width)
    page.get_by_role("button", name="Log out", exact=True).click()


def test_sign_up_errors_keep_what_was_typed(page_at):
    page = page_at(360)
    page.goto("/accounts/signup/")
    page.get_by_label("Username").fill("wren")
    page.get_by_label("Email").fill("wren@example.com")
    page.locator("#id_password").fill("password")
    page.locator("#id_password_again").fill("password")
    page.get_by_role("button", name="Sign up").click()
    assert page.get_by_text("This password is too common.").is_visible()
    assert page.get_by_label("Email").input_value() == "wren@example.com"
    assert not User.objects.filter(username="wren").exists()
