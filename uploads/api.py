"""REST views for uploads (filled in by the uploads issue)."""

from django.http import Http404
from rest_framework.views import APIView


class UploadDownloadView(APIView):
    def get(self, request, upload_id: int):
        raise Http404


class UploadThumbnailView(APIView):
    def get(self, request, upload_id: int):
        raise Http404
