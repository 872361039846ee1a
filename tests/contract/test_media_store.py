"""Records of uploaded images (owner, purpose, attached state, purge), on every adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fedipoly.media_models import AVATAR_TARGET, MediaRecord, MediaState, post_target
from fedipoly.store import Store

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def upload(
    media_id: str, *, owner: str = "alice-id", purpose: str = "post", hours: int = 0
) -> MediaRecord:
    return MediaRecord(
        id=f"{media_id:_<32}.png",
        owner_account_id=owner,
        purpose=purpose,
        created_at=START + timedelta(hours=hours),
    )


async def test_an_upload_is_recorded_unattached_with_its_owner_and_purpose(store: Store) -> None:
    record = upload("one", purpose="avatar")
    await store.insert_media(record)
    assert await store.get_media(record.id) == record
    assert record.state is MediaState.UNATTACHED and record.attached_to is None
    assert await store.get_media(upload("unknown").id) is None


async def test_only_the_owner_attaches_an_upload_for_its_purpose_to_one_target(
    store: Store,
) -> None:
    record = upload("one")
    await store.insert_media(record)
    first, second = post_target("p1"), post_target("p2")
    assert not await store.attach_media(
        record.id, owner_account_id="bob-id", purpose="post", target=first
    )
    assert not await store.attach_media(
        record.id, owner_account_id="alice-id", purpose="avatar", target=AVATAR_TARGET
    )
    assert not await store.attach_media(
        upload("unknown").id, owner_account_id="alice-id", purpose="post", target=first
    )
    assert (await store.get_media(record.id)) == record  # the refusals changed nothing

    assert await store.attach_media(
        record.id, owner_account_id="alice-id", purpose="post", target=first
    )
    attached = await store.get_media(record.id)
    assert attached is not None
    assert (attached.state, attached.attached_to) == (MediaState.ATTACHED, first)
    # The same post may claim it again (an edit keeping the image); another post may not.
    assert await store.attach_media(
        record.id, owner_account_id="alice-id", purpose="post", target=first
    )
    assert not await store.attach_media(
        record.id, owner_account_id="alice-id", purpose="post", target=second
    )
    assert not await store.detach_media(record.id, target=second)
    assert await store.detach_media(record.id, target=first)
    detached = await store.get_media(record.id)
    assert detached is not None and detached.state is MediaState.UNATTACHED
    assert detached.attached_to is None
    assert await store.attach_media(
        record.id, owner_account_id="alice-id", purpose="post", target=second
    )
    assert await store.delete_media(record.id)
    assert not await store.delete_media(record.id)
    assert await store.get_media(record.id) is None


async def test_the_purge_takes_old_unattached_uploads_only_and_they_cannot_be_attached_after(
    store: Store,
) -> None:
    old, older, attached, recent = (
        upload("old", hours=0),
        upload("older", hours=-5),
        upload("attached", hours=-10),
        upload("recent", hours=20),
    )
    for record in (old, older, attached, recent):
        await store.insert_media(record)
    assert await store.attach_media(
        attached.id, owner_account_id="alice-id", purpose="post", target=post_target("p")
    )
    cutoff = START + timedelta(hours=1)
    taken = await store.claim_media_purge(cutoff, limit=1)
    assert [record.id for record in taken] == [older.id]  # oldest first
    assert taken[0].state is MediaState.PURGING
    assert not await store.attach_media(
        old.id, owner_account_id="alice-id", purpose="post", target=post_target("q")
    )
    # An interrupted purge finds what it marked again.
    again = await store.claim_media_purge(cutoff, limit=10)
    assert [record.id for record in again] == [older.id, old.id]
    for record in again:
        assert await store.delete_media(record.id)
    assert await store.claim_media_purge(cutoff, limit=10) == []
    kept = [await store.get_media(record.id) for record in (attached, recent)]
    assert [(record.state if record else None) for record in kept] == [
        MediaState.ATTACHED,
        MediaState.UNATTACHED,
    ]
