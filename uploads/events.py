"""The upload object's schema (``uploads.payloads.upload_payload``), for the events that carry it.

Uploads publish no event of their own: a removed attachment is announced
with chat's ``message_edited``, whose message lists its ``attachments`` in
this shape.
"""

from __future__ import annotations

from core.events import COUNT, ID, STRING, TIMESTAMP, nullable, obj

UPLOAD = obj(
    {
        "id": ID,
        "name": STRING,
        "content_type": STRING,
        "size": COUNT,
        "url": STRING,
        "thumbnail_url": nullable(STRING),
        "width": nullable(COUNT),
        "height": nullable(COUNT),
        "created_at": nullable(TIMESTAMP),
    }
)
