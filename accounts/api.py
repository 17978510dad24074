"""Account API: sign-up, the current user, export and deletion (JWT views are simplejwt's)."""

from django.http import JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .serializers import MeOutput, RegisterInput, SignUpOutput
from .throttles import RegistrationThrottle


class RegisterApi(APIView):
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
