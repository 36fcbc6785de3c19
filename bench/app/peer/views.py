from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView


class MeView(APIView):
    """GET /api/me/: the protected endpoint of the benchmark.

    simplejwt's JWTAuthentication checks the signature and expiry and loads the
    user (one SELECT), as a typical DRF project's protected view does.
    """

    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"id": request.user.id, "username": request.user.get_username()})
