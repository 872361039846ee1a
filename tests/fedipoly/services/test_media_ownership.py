"""Uploaded images belong to their uploader: only they attach them (to one post, or as their
avatar), anyone else hears "no such image" as for an unknown id, and uploads nothing uses are
purged after the retention while attached ones stay. Posts made before upload records existed
keep their images."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from federation.client import FederationClient
from federation.ssrf import HostPolicy
from fedipoly.errors import NotFound, ValidationFailed
from fedipoly.media_models import AVATAR_TARGET, MediaState, post_target
from fedipoly.models import Account, Visibility
from fedipoly.services.delivery import Deliverer
from fedipoly.services.media import MediaPurpose, MediaService, StoredMedia
from fedipoly.services.media_library import MediaLibrary
from fedipoly.services.post_parts import NewAttachment
from fedipoly.services.posts import PostService
from fedipoly.services.profiles import ProfileService
from fedipoly.store import Store
from fedipoly.urls import Urls
from tests.fedipoly.services.conftest import make_member
from tests.fedipoly.services.test_posts_ext import image_bytes

UNKNOWN = "no such image; upload it first"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client() -> AsyncIterator[FederationClient]:
    async with FederationClient(HostPolicy(), "Fedipoly-tests") as started:
        yield started


@pytest.fixture
def files(tmp_path: Path) -> MediaService:
    return MediaService(tmp_path / "media")


@pytest.fixture
def library(store: Store, files: MediaService, clock: Clock) -> MediaLibrary:
    return MediaLibrary(store, files, clock, unattached_retention=timedelta(hours=24))


@pytest.fixture
def posts(
    store: Store, urls: Urls, client: FederationClient, files: MediaService, clock: Clock
) -> PostService:
    deliverer = Deliverer(store, client, urls, clock, "unused instance key")
    return PostService(store, deliverer, urls, clock, media=files)


@pytest.fixture
def avatars(store: Store, urls: Urls, client: FederationClient, clock: Clock) -> ProfileService:
    deliverer = Deliverer(store, client, urls, clock, "unused instance key")
    return ProfileService(store, deliverer, urls, clock)


async def post_with(posts: PostService, author: Account, *images: StoredMedia) -> str:
    attachments = [NewAttachment(image.id, "a red square") for image in images]
    post = await posts.create(author, "pics", Visibility.PUBLIC, attachments=attachments)
    return post.id


async def state_of(store: Store, image: StoredMedia) -> tuple[MediaState, str | None] | None:
    record = await store.get_media(image.id)
    return (record.state, record.attached_to) if record else None


async def test_an_upload_is_recorded_as_its_uploaders_and_unattached(
    store: Store, library: MediaLibrary, clock: Clock
) -> None:
    alice = await make_member(store, "alice")
    image = await library.upload(alice, image_bytes())
    record = await store.get_media(image.id)
    assert record is not None
    assert (record.owner_account_id, record.purpose) == (alice.id, "post")
    assert (record.state, record.attached_to, record.created_at) == (
        MediaState.UNATTACHED,
        None,
        clock.now,
    )


async def test_another_members_upload_is_refused_like_an_unknown_id(
    store: Store, posts: PostService, library: MediaLibrary, files: MediaService
) -> None:
    alice, bob = await make_member(store, "alice"), await make_member(store, "bob")
    image = await library.upload(alice, image_bytes())
    answers = []
    for media_id in (image.id, "a" * 32 + ".png"):
        with pytest.raises(ValidationFailed) as refused:
            await posts.create(
                bob, "mine now", Visibility.PUBLIC, attachments=[NewAttachment(media_id, "x")]
            )
        answers.append((refused.value.message, refused.value.detail))
    assert answers[0] == answers[1] == (UNKNOWN, {"field": "attachments"})
    assert await store.count_local_posts() == 0
    assert await state_of(store, image) == (MediaState.UNATTACHED, None)

    # Nor can bob slip it into a post of his while editing it.
    own = await posts.create(bob, "text only", Visibility.PUBLIC)
    with pytest.raises(ValidationFailed, match=UNKNOWN):
        await posts.update(bob, own.id, "now with", attachments=[NewAttachment(image.id, "x")])
    assert (await posts.get_own(bob, own.id)).attachments == ()

    post_id = await post_with(posts, alice, image)
    assert await state_of(store, image) == (MediaState.ATTACHED, post_target(post_id))
    assert (await files.read(image.id))[1] == "image/png"


async def test_an_image_goes_on_one_post_only_and_an_edit_keeps_or_frees_it(
    store: Store, posts: PostService, library: MediaLibrary, files: MediaService
) -> None:
    alice = await make_member(store, "alice")
    first, second = (
        await library.upload(alice, image_bytes()),
        await library.upload(alice, image_bytes((20, 20))),
    )
    post_id = await post_with(posts, alice, first)
    with pytest.raises(ValidationFailed, match=UNKNOWN):
        await post_with(posts, alice, first)  # deleting one post would break the other
    assert await store.count_local_posts() == 1

    # Keeping the image through an edit is fine; adding a second claims it too.
    kept = await posts.update(
        alice,
        post_id,
        "two now",
        attachments=[NewAttachment(first.id, "kept"), NewAttachment(second.id, "added")],
    )
    assert [item.media_id for item in kept.attachments] == [first.id, second.id]
    assert await state_of(store, second) == (MediaState.ATTACHED, post_target(post_id))
    # Dropping one deletes its file and record, as before; deleting the post, the rest.
    await posts.update(alice, post_id, "one", attachments=[NewAttachment(second.id, "alone")])
    assert await store.get_media(first.id) is None
    with pytest.raises(NotFound):
        await files.read(first.id)
    await posts.delete(alice, post_id)
    assert await store.get_media(second.id) is None
    with pytest.raises(NotFound):
        await files.read(second.id)


async def test_a_refused_post_leaves_its_upload_free_to_use(
    store: Store, posts: PostService, library: MediaLibrary
) -> None:
    alice = await make_member(store, "alice")
    good, other = (
        await library.upload(alice, image_bytes()),
        await library.upload(alice, image_bytes()),
    )
    taken_id = await post_with(posts, alice, other)
    with pytest.raises(ValidationFailed, match=UNKNOWN):
        await post_with(posts, alice, good, other)  # all or nothing
    assert await state_of(store, good) == (MediaState.UNATTACHED, None)
    with pytest.raises(NotFound):
        await posts.create(
            alice,
            "a reply to nothing",
            Visibility.PUBLIC,
            attachments=[NewAttachment(good.id, "x")],
            in_reply_to="https://fedipoly.test/users/nobody/statuses/1",
        )
    assert await state_of(store, good) == (MediaState.UNATTACHED, None)
    assert await state_of(store, other) == (MediaState.ATTACHED, post_target(taken_id))
    await post_with(posts, alice, good)


async def test_only_the_uploader_sets_an_avatar_upload_and_the_old_one_is_freed(
    store: Store, posts: PostService, avatars: ProfileService, library: MediaLibrary
) -> None:
    alice, bob = await make_member(store, "alice"), await make_member(store, "bob")
    avatar = await library.upload(alice, image_bytes((90, 60)), MediaPurpose.AVATAR)
    assert (avatar.width, avatar.height) == (60, 60)
    picture = await library.upload(alice, image_bytes())
    for who, media_id in ((bob, avatar.id), (alice, picture.id), (alice, "b" * 32 + ".png")):
        with pytest.raises(ValidationFailed, match=UNKNOWN):
            await avatars.set_avatar(who, media_id)
    assert (await store.get_profile(bob.id)).avatar_media_id is None
    with pytest.raises(ValidationFailed, match=UNKNOWN):
        await post_with(posts, alice, avatar)  # an avatar upload is not a post image

    assert (await avatars.set_avatar(alice, avatar.id)).avatar_media_id == avatar.id
    assert await state_of(store, avatar) == (MediaState.ATTACHED, AVATAR_TARGET)
    assert (await avatars.set_avatar(alice, avatar.id)).avatar_media_id == avatar.id  # again
    newer = await library.upload(alice, image_bytes(), MediaPurpose.AVATAR)
    await avatars.set_avatar(alice, newer.id)
    assert await state_of(store, avatar) == (MediaState.UNATTACHED, None)
    assert await state_of(store, newer) == (MediaState.ATTACHED, AVATAR_TARGET)
    await avatars.set_avatar(alice, None)
    assert await state_of(store, newer) == (MediaState.UNATTACHED, None)


async def test_the_purge_deletes_old_unattached_uploads_and_never_attached_ones(
    store: Store,
    posts: PostService,
    avatars: ProfileService,
    library: MediaLibrary,
    files: MediaService,
    clock: Clock,
) -> None:
    alice = await make_member(store, "alice")
    forgotten = await library.upload(alice, image_bytes())
    on_post = await library.upload(alice, image_bytes())
    avatar = await library.upload(alice, image_bytes(), MediaPurpose.AVATAR)
    await post_with(posts, alice, on_post)
    await avatars.set_avatar(alice, avatar.id)
    clock.now += timedelta(hours=23)
    recent = await library.upload(alice, image_bytes())
    assert await library.purge_unattached() == 0  # nothing is older than 24 hours yet

    clock.now += timedelta(hours=2)
    assert await library.purge_unattached() == 1
    assert await store.get_media(forgotten.id) is None
    assert not files.path_of(forgotten.id).exists()
    for kept in (on_post, avatar, recent):
        assert files.path_of(kept.id).exists() and await store.get_media(kept.id) is not None
    with pytest.raises(ValidationFailed, match=UNKNOWN):
        await post_with(posts, alice, forgotten)
    assert await library.purge_unattached() == 0


async def test_a_purge_cut_short_is_finished_by_the_next(
    store: Store, library: MediaLibrary, files: MediaService, clock: Clock
) -> None:
    alice = await make_member(store, "alice")
    images = [await library.upload(alice, image_bytes()) for _ in range(3)]
    clock.now += timedelta(days=2)
    taken = await store.claim_media_purge(clock.now - timedelta(hours=24), limit=1)
    assert len(taken) == 1  # as if the process died here: all three are marked, none deleted
    assert await library.purge_unattached(batch=2) == 2
    assert await library.purge_unattached(batch=2) == 1
    assert not any(files.path_of(image.id).exists() for image in images)


async def test_images_on_posts_from_before_upload_records_keep_working(
    store: Store, posts: PostService, library: MediaLibrary, files: MediaService, clock: Clock
) -> None:
    alice, bob = await make_member(store, "alice"), await make_member(store, "bob")
    image = await library.upload(alice, image_bytes())
    post_id = await post_with(posts, alice, image)
    await store.delete_media(image.id)  # what a post made before migration 9 looks like

    edited = await posts.update(alice, post_id, "new words")  # images untouched
    assert [item.media_id for item in edited.attachments] == [image.id]
    edited = await posts.update(
        alice, post_id, "and again", attachments=[NewAttachment(image.id, "same image")]
    )
    assert [(item.media_id, item.alt) for item in edited.attachments] == [(image.id, "same image")]
    clock.now += timedelta(days=30)
    assert await library.purge_unattached() == 0
    assert files.path_of(image.id).exists()
    with pytest.raises(ValidationFailed, match=UNKNOWN):
        await post_with(posts, bob, image)  # without a record nobody else can take it
    await posts.delete(alice, post_id)
    assert not files.path_of(image.id).exists()
