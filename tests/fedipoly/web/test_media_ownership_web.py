"""Over HTTP: an upload belongs to the member who sent it (API and compose form), another
member cannot attach its id, and the worker job deletes uploads left unattached past the
retention while attached images keep being served."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from fedipoly import appkeys
from fedipoly.app import create_app, register_jobs
from fedipoly.config import Config
from fedipoly.media_models import MediaState, post_target
from fedipoly.workers import WorkerPool
from tests.fedipoly.web.posts_rich_support import png_bytes, stored_media, submit_form, upload
from tests.fedipoly.web.social_support import Member, TickingClock, api, make_member


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
async def client(config: Config, clock: TickingClock) -> AsyncIterator[TestClient]:
    app = create_app(config, run_workers=False, clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


@pytest.fixture
def app(client: TestClient) -> web.Application:
    return client.server.app


async def uploaded(client: TestClient, who: Member) -> str:
    status, body = await upload(client, who, png_bytes())
    assert status == 201, body
    return str(body["id"])


def with_image(media_id: str, text: str = "look") -> dict[str, object]:
    return {"text": text, "attachments": [{"media_id": media_id, "alt": "a red square"}]}


async def test_another_members_upload_id_is_refused_by_the_api_as_an_unknown_one(
    client: TestClient, app: web.Application
) -> None:
    alice, bob = await make_member(app, "alice"), await make_member(app, "bob")
    media_id = await uploaded(client, alice)
    record = await app[appkeys.STORE].get_media(media_id)
    assert record is not None and record.owner_account_id == alice.account.id

    taken = await api(client, "POST", "/api/v1/posts", bob, with_image(media_id))
    unknown = await api(client, "POST", "/api/v1/posts", bob, with_image("a" * 32 + ".png"))
    assert taken == unknown  # same status, same message: ids cannot be probed
    assert taken[0] == 400 and taken[1]["detail"] == {"field": "attachments"}

    status, own = await api(client, "POST", "/api/v1/posts", bob, {"text": "words only"})
    assert status == 201, own
    edit = await api(client, "PUT", f"/api/v1/posts/{own['id']}", bob, with_image(media_id))
    assert edit == unknown
    status, still = await api(client, "GET", f"/api/v1/posts/{own['id']}", bob)
    assert status == 200 and still["attachments"] == []

    status, mine = await api(client, "POST", "/api/v1/posts", alice, with_image(media_id))
    assert status == 201, mine
    assert [item["url"].rsplit("/", 1)[-1] for item in mine["attachments"]] == [media_id]


async def test_the_compose_form_stores_images_as_the_posters_and_takes_no_ids(
    client: TestClient, app: web.Application
) -> None:
    alice, bob = await make_member(app, "alice"), await make_member(app, "bob")
    media_id = await uploaded(client, alice)
    store = app[appkeys.STORE]

    # Whatever field the id is smuggled in, the form only takes files it receives.
    fields = {"text": "borrowed", "image_1": media_id, "media_id": media_id, "alt_1": "x"}
    response = await submit_form(client, "/posts", fields, bob)
    assert response.status == 303
    [post] = (await app[appkeys.POSTS].home_timeline(bob.account, before=None)).posts
    assert post.attachments == ()
    record = await store.get_media(media_id)
    assert record is not None and record.state is MediaState.UNATTACHED

    response = await submit_form(
        client,
        "/posts",
        {"text": "my own", "alt_1": "a red square"},
        bob,
        files={"image_1": ("a.png", png_bytes(), "image/png")},
    )
    assert response.status == 303
    newest = (await app[appkeys.POSTS].home_timeline(bob.account, before=None)).posts[0]
    [image] = newest.attachments
    assert image.media_id is not None
    record = await store.get_media(image.media_id)
    assert record is not None and record.owner_account_id == bob.account.id
    assert (record.state, record.attached_to) == (MediaState.ATTACHED, post_target(newest.id))


async def test_the_purge_job_deletes_old_unattached_uploads_and_keeps_attached_ones(
    client: TestClient, app: web.Application, clock: TickingClock
) -> None:
    pool = WorkerPool()
    register_jobs(app, pool)
    assert "purge-unattached-media" in pool.job_names

    alice = await make_member(app, "alice")
    forgotten, shown = await uploaded(client, alice), await uploaded(client, alice)
    status, body = await api(client, "POST", "/api/v1/posts", alice, with_image(shown))
    assert status == 201, body
    assert len(stored_media(app)) == 2

    clock.now += timedelta(hours=23)  # media.unattached_retention_hours defaults to 24
    library = app[appkeys.MEDIA_LIBRARY]
    assert await library.purge_unattached() == 0
    clock.now += timedelta(hours=2)
    assert await library.purge_unattached() == 1

    assert [path.name for path in stored_media(app)] == [shown]
    assert (await client.get(f"/media/{forgotten}")).status == 404
    assert (await client.get(f"/media/{shown}")).status == 200
    assert await app[appkeys.STORE].get_media(forgotten) is None
    status, body = await api(client, "POST", "/api/v1/posts", alice, with_image(forgotten))
    assert status == 400 and body["detail"] == {"field": "attachments"}
