"""Uploaded images and who owns them: the record beside each MediaService file.

An upload is recorded with its uploader, its purpose and the time; only that member may
attach it (to a post for a post image, to their profile for an avatar), and anyone else is
told there is no such image, exactly as for an id that never existed, so ids cannot be
probed. Attaching is a conditional write in the store (see `MediaStore.attach_media`), done
by the service that attaches: posts and profiles.

Uploads nothing uses are deleted by `purge_unattached` (a periodic worker job) once older than
the retention: the records are first marked as being purged (so they can no longer be
attached), then each file is deleted, then its record. An interrupted purge is finished by the
next one. Images on posts and profiles are never touched. Files uploaded before records
existed have none: the posts that show them keep doing so, and the purge never sees them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from fedipoly.errors import FedipolyError
from fedipoly.media_models import MediaRecord, MediaState
from fedipoly.models import Account, Clock
from fedipoly.services.media import MediaPurpose, MediaService, StoredMedia
from fedipoly.store.base import MediaStore

DEFAULT_RETENTION = timedelta(hours=24)
UNKNOWN_IMAGE = "no such image; upload it first"
PURGE_BATCH = 100


class MediaLibrary:
    def __init__(
        self,
        store: MediaStore,
        files: MediaService,
        clock: Clock,
        *,
        unattached_retention: timedelta = DEFAULT_RETENTION,
    ) -> None:
        self._store = store
        self._files = files
        self._clock = clock
        self._retention = unattached_retention

    @property
    def files(self) -> MediaService:
        return self._files

    async def upload(
        self, owner: Account, data: bytes, purpose: MediaPurpose = MediaPurpose.POST
    ) -> StoredMedia:
        """Check, clean and store the image (see MediaService.save_image), then record it as
        the owner's, unattached. The file is removed again when the record cannot be written."""
        stored = await self._files.save_image(data, purpose=purpose)
        record = MediaRecord(
            id=stored.id,
            owner_account_id=owner.id,
            purpose=purpose.value,
            created_at=self._clock(),
        )
        try:
            await self._store.insert_media(record)
        except BaseException:
            await self._files.delete(stored.id)
            raise
        return stored

    async def discard(self, media_id: str) -> None:
        """Delete an upload, file then record (a form that failed after storing its images)."""
        await self._files.delete(media_id)
        await self._store.delete_media(media_id)

    async def purge_unattached(self, *, batch: int = PURGE_BATCH) -> int:
        """Delete up to `batch` uploads left unattached longer than the retention; returns how
        many. Call again while it returns `batch`."""
        before = self._clock() - self._retention
        records = await self._store.claim_media_purge(before, limit=batch)
        for record in records:
            await self._files.delete(record.id)
            await self._store.delete_media(record.id)
        return len(records)


# --- attaching: used by the services that show images (posts, profiles) ---------------------


async def may_attach(
    store: MediaStore, owner: Account, media_id: str, purpose: MediaPurpose, target: str
) -> bool:
    """Whether `owner` may attach this upload to `target` now: it is theirs, made for this
    purpose, and unattached or already on this same target. (The claim re-checks this in
    one write: see `claim`.)"""
    record = await store.get_media(media_id)
    return (
        record is not None
        and record.owner_account_id == owner.id
        and record.purpose == purpose.value
        and (
            record.state is MediaState.UNATTACHED
            or (record.state is MediaState.ATTACHED and record.attached_to == target)
        )
    )


async def claim(
    store: MediaStore,
    owner: Account,
    media_ids: Sequence[str],
    purpose: MediaPurpose,
    target: str,
    refusal: FedipolyError,
) -> None:
    """Attach every upload to `target`, or none: when one cannot be claimed (another member's,
    purged or taken meanwhile) the ones claimed here are released and `refusal` is raised."""
    claimed: list[str] = []
    for media_id in media_ids:
        if not await store.attach_media(
            media_id, owner_account_id=owner.id, purpose=purpose.value, target=target
        ):
            await release(store, claimed, target)
            raise refusal
        claimed.append(media_id)


async def release(store: MediaStore, media_ids: Sequence[str], target: str) -> None:
    """Unattached again (the purge deletes them after the retention)."""
    for media_id in media_ids:
        await store.detach_media(media_id, target=target)
