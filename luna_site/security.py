"""Security headers on every response: a Content-Security-Policy with no inline script.

Django's own middleware sets the others (settings: ``SECURE_REFERRER_POLICY``,
``SECURE_CONTENT_TYPE_NOSNIFF``, ``SECURE_CROSS_ORIGIN_OPENER_POLICY``, ``X_FRAME_OPTIONS``).
The policy allows scripts, styles and everything else only from our own origin; pages and
templates hold no inline ``<script>``, ``on…=`` handler or ``style=`` attribute
(tests/site/test_security_headers.py reads every template), and htmx is told by its meta tag not to
inject its indicator styles. A view that needs another policy sets the header itself
(``content_security_policy``), and this middleware leaves it alone.
"""

from __future__ import annotations

import functools

CSP_HEADER = "Content-Security-Policy"


def policy(**directives: str) -> str:
    return "; ".join(f"{name.replace('_', '-')} {value}" for name, value in directives.items())


BASE = {
    "default_src": "'self'",
    "script_src": "'self'",
    "style_src": "'self'",
    "img_src": "'self' data:",
    "font_src": "'self'",
    "connect_src": "'self'",
    "object_src": "'none'",
    "base_uri": "'self'",
    "form_action": "'self'",
    "frame_ancestors": "'none'",
}
SITE_POLICY = policy(**BASE)
# Swagger UI (drf-spectacular's sidecar, served by the split view so its start-up script is a
# file) keeps an inline <style> block in its page and sets style attributes from React.
API_DOCS_POLICY = policy(**{**BASE, "style_src": "'self' 'unsafe-inline'"})


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if CSP_HEADER not in response:
            response[CSP_HEADER] = SITE_POLICY
        return response


def content_security_policy(value: str):
    """Give one view its own policy."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            response[CSP_HEADER] = value
            return response

        return wrapped

    return decorate
