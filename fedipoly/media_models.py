"""The record of an uploaded image: who uploaded it, what for, and whether something shows it.

Kept apart from models.py because only the media library, the services that attach images
(posts, profiles) and the store mixins use it (no I/O here).

Attachment is stored, not derived: a post or profile *claims* an upload with one atomic,
conditional update (owner, purpose and "not claimed by anything else" are checked in the same
write), so two posts cannot both take one image and the purge cannot delete an image that is
being attached. Deriving it from posts would need an index over every post's attachments on
both adapters and would still race with the purge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class MediaState(StrEnum):
    UNATTACHED = "unattached"  # uploaded; deleted by the purge once older than the retention
    ATTACHED = "attached"  # shown by `attached_to`; never purged
    PURGING = "purging"  # taken by the purge: its file is being deleted, then its record


@dataclass(frozen=True)
class MediaRecord:
    id: str  # the media id (its file name)
    owner_account_id: str  # the member who uploaded it; the only one who may attach it
    purpose: str  # a MediaPurpose value: "post" or "avatar"
    created_at: datetime
    state: MediaState = MediaState.UNATTACHED
    attached_to: str | None = None  # what shows it: "post:<post id>" or "avatar"


def post_target(post_id: str) -> str:
    return f"post:{post_id}"


AVATAR_TARGET = "avatar"
