"""Log out everywhere, in real browsers: the button on one device ends the session on another."""

import pytest

from ..factories import TEST_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/stories/")


def test_log_out_everywhere_ends_the_other_devices_session(page_at):
    user = UserFactory()
    laptop, phone = page_at(1280), page_at(360)
    log_in(laptop, user.username)
    log_in(phone, user.username)
    phone.goto("/accounts/profile/")
    phone.get_by_role("button", name="Log out everywhere").click()
    phone.wait_for_url("**/accounts/login/")
    assert phone.get_by_text("You are logged out everywhere").is_visible()
    laptop.goto("/accounts/profile/")
    laptop.wait_for_url("**/accounts/login/?next=/accounts/profile/")
