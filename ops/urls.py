"""The probes and the metrics sit at the site root, outside /api/v1/, where balancers and Prometheus look."""

from django.urls import path

from . import health, metrics

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
]
