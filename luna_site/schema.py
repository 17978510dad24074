"""The OpenAPI schema lists, on every operation, the errors it can answer (``luna_site.api``'s shape)."""

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework_simplejwt.views import TokenViewBase


class ErrorOutput(serializers.Serializer):
    """What every error answers (see ``exception_handler``)."""

    code = serializers.CharField(help_text="A stable name for the error, e.g. `invalid`, `not_found`, `throttled`.")
    detail = serializers.CharField(help_text="A readable message.")
    errors = serializers.DictField(required=False, help_text="Per field, its messages (on `invalid` only).")


class ApiSchema(AutoSchema):
    """The schema of every operation also lists the errors it can answer, decided from the view itself:
    400 everywhere (a control character in the address or a parameter is refused before any view);
    413 and 415 where there is a body; 401 and 403 where one must sign in; 404 where the path names
    something or the list has pages; 429 where the view is throttled. Views add what is theirs, e.g. ``409: OpenApiResponse(description=…)``, which gets the error body."""

    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        for code, body in bodies.items():
            if code.startswith("4") and "content" not in body:  # declared by the view with a description only
                body["content"] = self._get_response_for_code(ErrorOutput, code, ["application/json"],
                                                              direction)["content"]
        for code in self.error_statuses():
            bodies.setdefault(str(code), self._get_response_for_code(ErrorOutput, str(code), ["application/json"],
                                                                      direction))
        return dict(sorted(bodies.items()))

    def error_statuses(self) -> list[int]:
        view = self.view
        codes = [400]
        if self.method in ("POST", "PUT", "PATCH"):
            codes += [413, 415]
        signed_in = not any(isinstance(permission, AllowAny) for permission in view.get_permissions())
        if signed_in or isinstance(view, TokenViewBase):  # the token views answer 401 to wrong credentials
            codes.append(401)
        if signed_in:
            codes.append(403)
        if "{" in self.path or (self.method == "GET" and getattr(view, "pagination_class", None)
                                and self._is_list_view()):
            codes.append(404)
        if view.get_throttles():
            codes.append(429)
        return codes

