"""PostgreSQL Row-Level Security plumbing (DESIGN §2).

Django logs in as the table owner (``luna``). Everything that acts for a user runs inside
``acting_as(user)``: a transaction (or savepoint) with ``SET LOCAL ROLE luna_app`` and the
user's id in ``app.current_user_id``, both transaction-local so a pooled connection never
carries one user's id into another's request. User-owned tables are declared with the
``UserOwnedTable`` migration operation (``accounts/migrations/_ddl_v1.py``, the migrations' frozen
DDL), which enables and forces RLS with owner-equality policies, so with no user set they match
nothing, even for ``luna``. The role names are the settings' RLS_APP_ROLE, RLS_ADMIN_ROLE and
RLS_MODERATOR_ROLE (``luna_app``, ``luna_admin``, ``luna_moderator`` by default).

Superusers in the admin act as a second NOLOGIN role, ``luna_admin``, whose own policy
(``TO luna_admin USING (true)``) lets them see everything; moderators in the admin act as
``luna_moderator``, whose policies add reported and hidden marketplace rows. Roles rather than
settings: anything a session can ``set_config`` itself proves nothing (DESIGN §2, the threat
model), and an ``OR`` of a bypass setting in the one policy that every query carries stops
PostgreSQL from using the ``user_id`` index (measured: 50× on a list).
"""

from __future__ import annotations

import logging
import uuid
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.db import DEFAULT_DB_ALIAS, connections, transaction

logger = logging.getLogger("luna.rls")

# Read by every policy (accounts/migrations/_ddl_v1.py, CURRENT_USER_SQL).
CURRENT_USER_SETTING = "app.current_user_id"


@dataclass(frozen=True)
class _ActingState:
    role: str | None  # None: the login role
    user_id: str


def _apply(connection, state: _ActingState) -> None:
    # set_config('role', …, true) is SET LOCAL ROLE as a function (as PostgREST does it):
    # role and user in one round trip. 'none' is the login role.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('role', %s, true), set_config(%s, %s, true)",
            [state.role or "none", CURRENT_USER_SETTING, state.user_id],
        )


def _user_id(user) -> str:
    value = getattr(user, "pk", user)
    return str(uuid.UUID(str(value)))


def _role(*, bypass: bool, moderator: bool) -> str:
    if bypass:
        return settings.RLS_ADMIN_ROLE
    return settings.RLS_MODERATOR_ROLE if moderator else settings.RLS_APP_ROLE


@contextmanager
def acting_as(user, *, bypass: bool = False, moderator: bool = False, using: str = DEFAULT_DB_ALIAS):
    """Run the block as ``user`` under RLS, in its own transaction or savepoint.

    ``bypass`` is for superusers in the admin only (an explicit, logged bypass); ``moderator``
    for moderators (their marketplace policies apply). Nested use restores the outer user on
    exit: releasing a savepoint does not undo ``SET LOCAL``, so the previous role and id are
    set back by hand.
    """
    state = _ActingState(role=_role(bypass=bypass, moderator=moderator), user_id=_user_id(user))
    if bypass:
        logger.warning("RLS bypass for superuser %s", state.user_id)
    with _acting(state, using):
        yield


@contextmanager
def acting_anonymously(*, using: str = DEFAULT_DB_ALIAS):
    """Run the block for a visitor with no account: the app role with no user id, so the policies
    show only what is public (the marketplace's public listings) and nothing owned by anyone. Never the
    owner role: the pages a visitor may read run under the same RLS as everyone's."""
    with _acting(_ActingState(role=settings.RLS_APP_ROLE, user_id=""), using):
        yield


# The user id periodic upkeep acts with: no account has it, and the admin role's policies ignore it.
UPKEEP_USER_ID = "00000000-0000-0000-0000-000000000000"


@contextmanager
def acting_for_upkeep(job: str, *, using: str = DEFAULT_DB_ALIAS):
    """Run periodic upkeep over every user's rows (the stuck-turn sweeper) as the admin role, logged.
    Never for a request: upkeep code takes no user input."""
    logger.info("RLS bypass for upkeep: %s", job)
    with _acting(_ActingState(role=settings.RLS_ADMIN_ROLE, user_id=UPKEEP_USER_ID), using):
        yield


@contextmanager
def _acting(state: _ActingState, using: str):
    connection = connections[using]
    with transaction.atomic(using=using):
        previous = getattr(connection, "luna_acting_state", None)
        _apply(connection, state)
        connection.luna_acting_state = state
        try:
            yield
        except BaseException:
            # The atomic block rolls back (to the savepoint), which undoes SET LOCAL.
            connection.luna_acting_state = previous
            raise
        connection.luna_acting_state = previous
        if previous is not None:
            _apply(connection, previous)
        else:
            _apply(connection, _ActingState(role=None, user_id=""))


MODERATORS_GROUP = "moderators"


def is_moderator(user) -> bool:
    return bool(getattr(user, "is_staff", False)) and user.groups.filter(name=MODERATORS_GROUP).exists()


def current_user_id(using: str = DEFAULT_DB_ALIAS) -> str | None:
    state = getattr(connections[using], "luna_acting_state", None)
    return state.user_id if state else None


# -- Requests ---------------------------------------------------------------------------


def _jwt_user_id(request) -> str | None:
    """The user id of a valid bearer token, read without touching the database."""
    from rest_framework_simplejwt.authentication import JWTAuthentication
    from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError

    authentication = JWTAuthentication()
    header = authentication.get_header(request)
    if header is None:
        return None
    try:
        raw_token = authentication.get_raw_token(header)
        token = authentication.get_validated_token(raw_token) if raw_token is not None else None
    except (AuthenticationFailed, InvalidToken, TokenError):
        return None  # DRF's authentication answers 401 with the reason
    if token is None:
        return None
    return token.get(settings.SIMPLE_JWT["USER_ID_CLAIM"])


def request_user_id(request) -> str | None:
    """Who a request acts for: the bearer token's user, else the session's."""
    candidate = _jwt_user_id(request) or request.session.get(SESSION_KEY)
    if not candidate:
        return None
    try:
        return _user_id(candidate)
    except ValueError:
        return None


def before_sign_in(view):
    """Mark a view that acts before anyone is known (sign-up, log-in, tokens, log-out): the middleware
    runs it as the table owner even when the request carries a session or a token, because what it
    reads and writes (other accounts, log-in records, token lists) is closed to the request roles."""
    return transaction.non_atomic_requests(view)


class RowLevelSecurityMiddleware:
    """Runs each view for a known user inside ``acting_as`` (anonymous views run as ``luna``),
    except views marked ``transaction.non_atomic_requests``, which act for the user themselves.

    The view runs in ``process_view`` so that an exception it raises rolls the
    transaction back before Django turns it into an error page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user_id = request_user_id(request)
        if user_id is None:
            return None
        if DEFAULT_DB_ALIAS in getattr(view_func, "_non_atomic_requests", ()):
            # Marked with transaction.non_atomic_requests: the view keeps transactions short
            # itself (each inside its own acting_as), e.g. around a long LLM call.
            return None
        with acting_as(user_id):
            in_admin = request.path.startswith("/admin/")
            superuser_in_admin = in_admin and getattr(request.user, "is_superuser", False)
            moderator_in_admin = in_admin and not superuser_in_admin and is_moderator(request.user)
            with (acting_as(user_id, bypass=True) if superuser_in_admin else
                  acting_as(user_id, moderator=True) if moderator_in_admin else nullcontext()):
                if superuser_in_admin:
                    logger.warning("superuser admin request %s %s", request.method, request.path)
                response = view_func(request, *view_args, **view_kwargs)
                if hasattr(response, "render") and callable(response.render):
                    response = response.render()  # templates query lazily
        return response
