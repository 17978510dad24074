"""Account API: sign-up, JWTs (simplejwt's views with our tokens), log out everywhere, the current user,
export and deletion."""

from django.http import JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from . import services
from .rls import before_sign_in
from .serializers import MeOutput, RegisterInput, SignUpOutput, TokenRefreshInput
from .throttles import RegistrationThrottle
from .tokens import TokenObtainSerializer

UNAUTHORIZED = OpenApiResponse(description="Not logged in, or the token is invalid, expired or revoked")


class BeforeSignInApi:
    """Sign-up, log-in and refresh act for no one yet: they run as the owner (``before_sign_in``) even when
    the request also carries a session cookie or a token; each keeps its writes in its own transaction."""

    @classmethod
    def as_view(cls, **initkwargs):
        return before_sign_in(super().as_view(**initkwargs))


class RegisterApi(BeforeSignInApi, APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [RegistrationThrottle]

    @extend_schema(request=RegisterInput, responses={202: SignUpOutput}, summary=(
        "Sign up: the account can log in once the link e-mailed to it is opened. The answer is the same "
        "whether or not the address has an account (its owner is told by e-mail instead)"))
    def post(self, request):
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_register(**data.validated_data, base_url=request.build_absolute_uri("/"))
        return Response({"detail": services.SIGNUP_SENT}, status=status.HTTP_202_ACCEPTED)


class TokenObtainApi(BeforeSignInApi, TokenObtainPairView):
    """Username and password in; an access token (minutes) and a refresh token (days) out."""

    serializer_class = TokenObtainSerializer

    @extend_schema(responses={200: TokenObtainSerializer, 401: UNAUTHORIZED}, summary="Log in: an access and a refresh token")
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class TokenRefreshApi(BeforeSignInApi, TokenRefreshView):
    """A refresh token in, a new access and refresh token out. The refresh token given is blacklisted: using
    it again answers 401, as does a token from before a password change or "log out everywhere"."""

    serializer_class = TokenRefreshInput

    @extend_schema(responses={200: TokenRefreshInput, 401: UNAUTHORIZED},
                   summary="A new access and refresh token; the refresh token given never works again")
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class LogoutEverywhereApi(APIView):
    """Ends every session and every access and refresh token of the account, the one used here included."""

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Every session and token ended"),
                                            401: UNAUTHORIZED},
                   summary="Log out everywhere: end every session and every token of the account")
    def post(self, request):
        services.user_logout_everywhere(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    @extend_schema(responses=MeOutput, summary="The signed-in user, their quotas and usage")
    def get(self, request):
        return Response(MeOutput(request.user).data)

    @extend_schema(responses={204: OpenApiResponse(description="Account and all private data deleted")},
                   summary="Delete the account")
    def delete(self, request):
        services.user_delete(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeExportApi(APIView):
    @extend_schema(responses={200: OpenApiResponse(description="All of the user's data as JSON")},
                   summary="Download all my data")
    def get(self, request):
        response = JsonResponse(services.user_export(user=request.user), json_dumps_params={"indent": 2})
        response["Content-Disposition"] = f'attachment; filename="luna-export-{request.user.username}.json"'
        return response
