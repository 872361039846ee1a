"""Authors moderation hides at read time: a silenced author's posts leave the local,
federated and badge timelines; a suspended author's leave home timelines and threads too.
Nothing about the posts changes, so lifting the restriction shows them again."""

from __future__ import annotations

import dataclasses

from fedipoly.models import Post, utc_now
from fedipoly.moderation_models import RestrictionLevel
from fedipoly.store import Store
from tests.contract.test_federation_store import ALICE, post, seconds

OWNER = "account-reader"


async def reads(store: Store, root: Post) -> dict[str, list[str]]:
    """Post ids on every read path the hidden set governs, by path."""
    listed = {
        "local": await store.local_timeline(before=None, limit=10),
        "federated": await store.public_timeline(before=None, limit=10),
        "badge": await store.badge_timeline("badge-1", before=None, limit=10),
        "home": await store.home_timeline(OWNER, before=None, limit=10),
        "thread": await store.thread_posts(root.uri, limit=10),
    }
    return {path: [item.id for item in posts] for path, posts in listed.items()}


async def test_hidden_authors_leave_the_timelines_at_read_time_and_come_back(
    store: Store,
) -> None:
    now = utc_now()
    other = "https://remote.example/users/other"
    root = post(other, published=now)
    mine = dataclasses.replace(
        post(ALICE, published=now + seconds(1), local_account_id="account-alice"),
        in_reply_to=root.uri,
        reply_root=root.uri,
    )
    theirs = dataclasses.replace(
        post(other, published=now + seconds(2)), in_reply_to=root.uri, reply_root=root.uri
    )
    for item in (root, mine, theirs):
        assert await store.insert_post(item)
        await store.replace_badge_entries(item, ["badge-1"])
        await store.add_to_timelines(item, [OWNER])
    everything = await reads(store, root)
    assert mine.id in everything["local"] and mine.id in everything["thread"]
    assert all(mine.id in ids for ids in everything.values())

    await store.set_author_hidden(ALICE, RestrictionLevel.SILENCED)
    assert await store.author_hidden(ALICE) is RestrictionLevel.SILENCED
    silenced = await reads(store, root)
    for path in ("local", "federated", "badge"):
        assert mine.id not in silenced[path], path
        assert silenced[path] == [i for i in everything[path] if i != mine.id]
    assert silenced["home"] == everything["home"]  # followers still read them
    assert silenced["thread"] == everything["thread"]

    await store.set_author_hidden(ALICE, RestrictionLevel.SUSPENDED)
    suspended = await reads(store, root)
    for path, ids in suspended.items():
        assert ids == [i for i in everything[path] if i != mine.id], path

    await store.set_author_hidden(ALICE, None)
    assert await store.author_hidden(ALICE) is None
    assert await reads(store, root) == everything
    assert (await store.get_post(mine.id)) == mine  # the post itself never changed
