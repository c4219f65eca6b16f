from django.urls import path

from . import api

urlpatterns = [
    path("uploads/", api.UploadListView.as_view(), name="upload-list"),
    path("uploads/<int:upload_id>/", api.UploadDetailView.as_view(), name="upload-detail"),
    path("uploads/<int:upload_id>/download/", api.UploadDownloadView.as_view(), name="upload-download"),
    path("uploads/<int:upload_id>/thumbnail/", api.UploadThumbnailView.as_view(), name="upload-thumbnail"),
]
