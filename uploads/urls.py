from django.urls import path

from . import api

urlpatterns = [
    path("uploads/<int:upload_id>/download/", api.UploadDownloadView.as_view(), name="upload-download"),
    path("uploads/<int:upload_id>/thumbnail/", api.UploadThumbnailView.as_view(), name="upload-thumbnail"),
]
