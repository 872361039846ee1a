"""Open to, collaboration requests, conversations and the Space Station over a real store (both
backends), with an injectable clock. Deliveries are only queued, never sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from federation.client import FederationClient
from federation.ssrf import HostPolicy
from federation.vocab import PUBLIC
from fedipoly.collab_models import OpenToEntry, RemoteProfile, RequestState
from fedipoly.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from fedipoly.models import Account, MemberBadgeEntry, Role, Visibility, utc_now
from fedipoly.moderation_models import DomainBlock
from fedipoly.services.actors import RemoteActors
from fedipoly.services.audit import AuditLog
from fedipoly.services.collab import REQUEST_PROPERTY, CollabService
from fedipoly.services.conversations import ConversationService
from fedipoly.services.delivery import Deliverer
from fedipoly.services.open_to import OpenToService, remote_open_to
from fedipoly.services.posts import PostService
from fedipoly.services.profiles import ProfileService
from fedipoly.services.space_station import SpaceStation
from fedipoly.services.space_station import remote_profile as remote_profile_of
from fedipoly.store import Store
from fedipoly.urls import Urls
from tests.contract.test_federation_store import remote_actor
from tests.fedipoly.services.conftest import BASE, make_member, sent_activities


class Clock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    store: Store
    clock: Clock
    urls: Urls
    profiles: ProfileService
    open_to: OpenToService
    conversations: ConversationService
    collab: CollabService
    station: SpaceStation
    posts: PostService
    actors: RemoteActors


@pytest.fixture
def world(store: Store) -> World:
    clock, urls = Clock(), Urls(BASE)
    client = FederationClient(HostPolicy(), "Fedipoly-tests")  # never started: nothing is sent
    deliverer = Deliverer(store, client, urls, clock, "unused instance key")
    profiles = ProfileService(store, deliverer, urls, clock)
    # The signer is never called: these tests fetch no remote actor.
    actors = RemoteActors(store, client, urls, lambda *args: {}, clock)
    open_to = OpenToService(store, clock, profiles.announce_update, audit=AuditLog(store, clock))
    posts = PostService(store, deliverer, urls, clock)
    conversations = ConversationService(store, posts, urls, clock)
    collab = CollabService(
        store, open_to, conversations, actors, deliverer, urls, clock, requests_per_day=3
    )
    station = SpaceStation(store, open_to, actors, urls, clock)
    return World(
        store, clock, urls, profiles, open_to, conversations, collab, station, posts, actors
    )


async def test_members_answer_yes_or_no_with_an_end_date_shown_on_the_actor(world: World) -> None:
    bob = await make_member(world.store, "bob")
    until = world.clock.now + timedelta(days=30)
    await world.open_to.set_answers(
        bob,
        [
            OpenToEntry("guest_lecture", True, until),
            OpenToEntry("mentoring", True),
            OpenToEntry("angel_investing", False),
        ],
    )
    lines = {line.reason.slug: line.state for line in await world.open_to.lines(bob)}
    assert lines["guest_lecture"] == "yes" and lines["angel_investing"] == "no"
    assert lines["hiring"] == ""

    actor = await world.profiles.actor_document(bob)
    fields = {field["name"]: field["value"] for field in actor["attachment"]}
    assert fields["Open to"] == f"Guest lecture (until {until.date().isoformat()}), Mentoring"
    assert fields["Not open to"] == "Angel investing"
    structured = {item["fedipoly:reason"]: item for item in actor["fedipoly:openTo"]}
    assert structured["guest_lecture"]["fedipoly:open"] is True
    assert structured["guest_lecture"]["fedipoly:until"] == until.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert structured["angel_investing"]["fedipoly:open"] is False
    # Read back the way another Fedipoly server reads it.
    is_fedipoly, answers = remote_open_to(actor, await world.open_to.catalogue())
    assert is_fedipoly and {entry.reason_slug for entry in answers} == set(structured)

    # Bad answers change nothing.
    for bad in (
        [OpenToEntry("time_travel", True)],
        [OpenToEntry("mentoring", True), OpenToEntry("mentoring", False)],
        [OpenToEntry("mentoring", True, world.clock.now - timedelta(seconds=1))],
    ):
        with pytest.raises(ValidationFailed):
            await world.open_to.set_answers(bob, bad)
    assert {line.reason.slug: line.state for line in await world.open_to.lines(bob)} == lines


async def test_only_admins_edit_the_catalogue(world: World) -> None:
    admin = await make_member(world.store, "root", Role.ADMIN)
    member = await make_member(world.store, "bob")
    with pytest.raises(Forbidden):
        await world.open_to.add_reason(member, "workshops", "Workshops")
    added = await world.open_to.add_reason(admin, "workshops", " Running   workshops ")
    assert added.label == "Running workshops"
    renamed = await world.open_to.rename_reason(admin, "workshops", "Workshops")
    assert renamed.label == "Workshops"
    await world.open_to.remove_reason(admin, "workshops")
    with pytest.raises(NotFound):
        await world.open_to.remove_reason(admin, "workshops")


async def test_a_request_must_name_a_reason_the_recipient_is_open_to_now(world: World) -> None:
    alice, bob = await make_member(world.store, "alice"), await make_member(world.store, "bob")
    until = world.clock.now + timedelta(days=1)
    await world.open_to.set_answers(
        bob, [OpenToEntry("mentoring", True, until), OpenToEntry("angel_investing", False)]
    )
    for reason in ("angel_investing", "hiring"):
        with pytest.raises(ValidationFailed) as refused:
            await world.collab.send(alice, "bob", reason, "Hello")
        assert "mentoring" in refused.value.detail["open_to"]
    assert (await world.collab.sent(alice)).items == []

    sent = await world.collab.send(alice, "bob", "mentoring", "Could you mentor me?")
    assert sent.state is RequestState.PENDING and sent.reason_label == "Mentoring"
    with pytest.raises(Conflict):  # one waiting request per pair
        await world.collab.send(alice, "bob", "mentoring", "Again?")
    await world.collab.not_right_now(bob, sent.id)

    # Past the end date the yes lapses: no more requests for it.
    world.clock.now = until + timedelta(seconds=1)
    with pytest.raises(ValidationFailed):
        await world.collab.send(alice, "bob", "mentoring", "Still?")
    # ... nor from another server.
    rita = remote_actor("rita")
    await world.store.upsert_remote_actor(rita)
    with pytest.raises(Forbidden):
        await world.collab.route_direct_note(
            _note(rita.uri, world.urls.actor("bob"), "mentoring", f"{rita.uri}/notes/9"), rita
        )
    assert {line.reason.slug: line.state for line in await world.open_to.lines(bob)}[
        "mentoring"
    ] == ""


async def test_requests_are_rate_limited_per_sender(world: World) -> None:
    alice = await make_member(world.store, "alice")
    for name in ("bob", "carol", "dan", "erin"):
        member = await make_member(world.store, name)
        await world.open_to.set_answers(member, [OpenToEntry("mentoring", True)])
    start = world.clock.now
    for name in ("bob", "carol", "dan"):
        await world.collab.send(alice, name, "mentoring", "Hi")
        world.clock.now += timedelta(hours=1)
    with pytest.raises(RateLimited) as refused:
        await world.collab.send(alice, "erin", "mentoring", "Hi")
    # A slot frees up when the first of the three is a day old: 21 hours from now.
    assert refused.value.retry_after_seconds == 21 * 3600 + 1
    assert "21 h" in refused.value.message
    world.clock.now = start + timedelta(days=1, seconds=1)
    await world.collab.send(alice, "erin", "mentoring", "Hi")


async def test_interested_opens_a_conversation_both_ways_and_declining_is_silent(
    world: World,
) -> None:
    alice, bob = await make_member(world.store, "alice"), await make_member(world.store, "bob")
    carol = await make_member(world.store, "carol")
    await world.open_to.set_answers(bob, [OpenToEntry("mentoring", True)])
    request = await world.collab.send(alice, "bob", "mentoring", "Could you mentor me?")
    world.clock.now += timedelta(seconds=1)
    declined = await world.collab.send(carol, "bob", "mentoring", "Me too")

    inbox = await world.collab.received(bob)
    assert [item.request.id for item in inbox.items] == [declined.id, request.id]
    assert inbox.items[1].sender.handle == "alice@fedipoly.test"
    with pytest.raises(NotFound):  # only the recipient answers
        await world.collab.interested(alice, request.id)

    await world.collab.not_right_now(bob, declined.id)
    assert (await world.conversations.page(carol)).items == []  # carol is never told

    conversation = await world.collab.interested(bob, request.id)
    with pytest.raises(Conflict):
        await world.collab.interested(bob, request.id)
    assert (await world.collab.received(bob)).items == []
    accepted = await world.collab.received(bob, RequestState.ACCEPTED)
    assert [item.request.id for item in accepted.items] == [request.id]

    alices = (await world.conversations.page(alice)).items
    assert [view.peer.handle for view in alices] == ["bob@fedipoly.test"]
    first = (await world.conversations.messages(alice, alices[0].conversation.id)).messages
    assert len(first) == 1 and "Interested" in first[0].source_text

    world.clock.now += timedelta(seconds=1)
    answer = await world.conversations.send(alice, alices[0].conversation.id, "Great, thanks!")
    assert answer.in_reply_to == first[0].uri  # threaded
    assert answer.audience == (world.urls.actor("bob"),)
    bobs = await world.conversations.messages(bob, conversation.id)
    assert [post.source_text for post in bobs.messages] == [
        "Great, thanks!",
        first[0].source_text,
    ]
    with pytest.raises(NotFound):  # nobody else reads it
        await world.conversations.messages(carol, conversation.id)


async def test_a_blocked_sender_can_no_longer_ask(world: World) -> None:
    alice, bob = await make_member(world.store, "alice"), await make_member(world.store, "bob")
    await world.open_to.set_answers(bob, [OpenToEntry("mentoring", True)])
    request = await world.collab.send(alice, "bob", "mentoring", "Hi")
    await world.collab.block_sender(bob, request.id)
    assert (await world.collab.received(bob)).items == []
    with pytest.raises(Forbidden):
        await world.collab.send(alice, "bob", "mentoring", "Hi again")


async def test_members_see_whom_they_blocked_by_name_and_lift_only_their_own_blocks(
    world: World,
) -> None:
    alice, bob = await make_member(world.store, "alice"), await make_member(world.store, "bob")
    carol = await make_member(world.store, "carol")
    await world.open_to.set_answers(bob, [OpenToEntry("mentoring", True)])
    bob_uri, alice_uri = world.urls.actor("bob"), world.urls.actor("alice")
    rita = remote_actor("rita")
    await world.store.upsert_remote_actor(rita)
    # Zed's request came with his actor, but his actor was never cached here.
    zed = remote_actor("zed", "elsewhere.example")

    await world.collab.block_sender(
        bob, (await world.collab.send(alice, "bob", "mentoring", "Hi")).id
    )
    for number, sender in enumerate((rita, zed)):
        world.clock.now += timedelta(minutes=1)
        note = _note(sender.uri, bob_uri, "mentoring", f"{sender.uri}/notes/{number}")
        assert await world.collab.route_direct_note(note, sender)
        waiting = (await world.collab.received(bob)).items
        await world.collab.block_sender(bob, waiting[0].request.id)

    listed = await world.collab.blocks(bob)
    assert [(view.actor.handle, view.actor.display_name) for view in listed.items] == [
        (zed.uri, zed.uri),  # nothing known but the URI
        ("rita@remote.example", "Rita"),
        ("alice@fedipoly.test", "Alice"),
    ]
    assert [view.block.blocked for view in listed.items] == [zed.uri, rita.uri, alice_uri]
    assert listed.next_cursor is None
    assert (await world.collab.blocks(carol)).items == []
    first = await world.collab.blocks(bob, limit=2)
    rest = await world.collab.blocks(bob, before=first.next_cursor, limit=2)
    assert [view.block.blocked for view in first.items + rest.items] == [
        zed.uri,
        rita.uri,
        alice_uri,
    ]
    assert rest.next_cursor is None

    # Bad input and other people's blocks are refused, and nothing changes.
    with pytest.raises(ValidationFailed):
        await world.collab.unblock(bob, "  ")
    with pytest.raises(NotFound):
        await world.collab.unblock(bob, "https://remote.example/users/never-blocked")
    with pytest.raises(NotFound):
        await world.collab.unblock(carol, alice_uri)  # bob's block is bob's to lift
    for bad_page in ({"before": "not a cursor"}, {"limit": 0}, {"limit": 1000}):
        with pytest.raises(ValidationFailed):
            await world.collab.blocks(bob, **bad_page)  # type: ignore[arg-type]
    assert len((await world.collab.blocks(bob)).items) == 3

    await world.collab.unblock(bob, f" {alice_uri} ")
    with pytest.raises(NotFound):
        await world.collab.unblock(bob, alice_uri)
    assert [view.block.blocked for view in (await world.collab.blocks(bob)).items] == [
        zed.uri,
        rita.uri,
    ]
    # Alice's requests reach bob again; rita's are still dropped without a word.
    again = await world.collab.send(alice, "bob", "mentoring", "Hi again")
    assert await world.collab.route_direct_note(
        _note(rita.uri, bob_uri, "mentoring", f"{rita.uri}/notes/later"), rita
    )
    assert [item.request.id for item in (await world.collab.received(bob)).items] == [again.id]


async def _home(world: World, member: Account) -> list[str]:
    return [post.uri for post in await world.store.home_timeline(member.id, before=None, limit=40)]


async def test_a_block_stops_the_senders_mentions_and_direct_messages(world: World) -> None:
    alice, bob = await make_member(world.store, "alice"), await make_member(world.store, "bob")
    carol = await make_member(world.store, "carol")
    rita = remote_actor("rita")
    await world.store.upsert_remote_actor(rita)
    await world.open_to.set_answers(bob, [OpenToEntry("mentoring", True)])
    request = await world.collab.send(alice, "bob", "mentoring", "Hi")
    await world.collab.block_sender(bob, request.id)
    await world.collab.route_direct_note(
        _note(rita.uri, world.urls.actor("bob"), "mentoring", f"{rita.uri}/notes/1"), rita
    )
    await world.collab.block_sender(bob, (await world.collab.received(bob)).items[0].request.id)

    # Local: alice's @mention and her direct message reach carol, never bob.
    mention = await world.posts.create(alice, "@bob @carol look", Visibility.PUBLIC)
    direct = await world.posts.create(
        alice, "psst", Visibility.DIRECT, recipients=[world.urls.actor("bob")]
    )
    edited = await world.posts.create(alice, "draft", Visibility.PUBLIC)
    await world.posts.update(alice, edited.id, "draft for @bob")  # newly mentioned in an edit
    assert mention.uri in await _home(world, carol)
    assert not {mention.uri, direct.uri, edited.uri} & set(await _home(world, bob))

    # Remote: rita's public mention and her direct note to bob and carol reach carol only.
    bob_uri, carol_uri = world.urls.actor("bob"), world.urls.actor("carol")
    tags = [{"type": "Mention", "href": bob_uri}, {"type": "Mention", "href": carol_uri}]
    public = {
        **_note(rita.uri, PUBLIC, None, f"{rita.uri}/notes/2"),
        "cc": [bob_uri, carol_uri],
        "tag": tags,
    }
    dm = {**_note(rita.uri, bob_uri, None, f"{rita.uri}/notes/3"), "cc": [carol_uri], "tag": tags}
    for note in (public, dm):
        assert not await world.collab.route_direct_note(note, rita)  # the ordinary path
        await world.posts.ingest_remote(note, rita)
    assert {public["id"], dm["id"]} <= set(await _home(world, carol))
    assert not {public["id"], dm["id"]} & set(await _home(world, bob))


def _note(sender: str, to: str, reason: str | None, note_id: str) -> dict[str, Any]:
    note: dict[str, Any] = {
        "id": note_id,
        "type": "Note",
        "attributedTo": sender,
        "to": [to],
        "cc": [],
        "content": "<p>Collaboration request: hello</p>",
    }
    if reason:
        note[REQUEST_PROPERTY] = {"fedipoly:reason": reason, "fedipoly:message": "hello"}
    return note


async def test_remote_requests_are_filed_or_refused_and_plain_dms_are_not_requests(
    world: World,
) -> None:
    bob = await make_member(world.store, "bob")
    await world.open_to.set_answers(bob, [OpenToEntry("mentoring", True)])
    rita = remote_actor("rita")
    await world.store.upsert_remote_actor(rita)
    bob_uri = world.urls.actor("bob")

    with pytest.raises(Forbidden):
        await world.collab.route_direct_note(
            _note(rita.uri, bob_uri, "angel_investing", f"{rita.uri}/notes/1"), rita
        )
    assert await world.collab.route_direct_note(
        _note(rita.uri, bob_uri, "mentoring", f"{rita.uri}/notes/2"), rita
    )
    # A second request while the first waits is dropped (one waiting request per pair).
    assert await world.collab.route_direct_note(
        _note(rita.uri, bob_uri, "mentoring", f"{rita.uri}/notes/2b"), rita
    )
    inbox = (await world.collab.received(bob)).items
    assert [(item.request.sender, item.request.message) for item in inbox] == [(rita.uri, "hello")]
    # Without the reason it is an ordinary direct message: not handled here.
    assert not await world.collab.route_direct_note(
        _note(rita.uri, bob_uri, None, f"{rita.uri}/notes/3"), rita
    )
    # Once bob is interested, rita's direct notes join the conversation.
    conversation = await world.collab.interested(bob, inbox[0].request.id)
    sent = await sent_activities(world.store)
    told = [body for body in sent if body["type"] == "Create"]
    assert told and told[-1]["object"]["to"] == [rita.uri] and told[-1]["object"]["cc"] == []
    world.clock.now += timedelta(seconds=1)
    assert await world.collab.route_direct_note(
        _note(rita.uri, bob_uri, None, f"{rita.uri}/notes/4"), rita
    )
    messages = (await world.conversations.messages(bob, conversation.id)).messages
    assert messages[0].uri == f"{rita.uri}/notes/4"

    # Once blocked, rita's direct notes are dropped: no conversation message, no post.
    await world.collab.block_sender(bob, inbox[0].request.id)
    assert await world.collab.route_direct_note(
        _note(rita.uri, bob_uri, None, f"{rita.uri}/notes/5"), rita
    )
    assert await world.store.get_post_by_uri(f"{rita.uri}/notes/5") is None
    # ... and so are their requests, without a word.
    assert await world.collab.route_direct_note(
        _note(rita.uri, bob_uri, "mentoring", f"{rita.uri}/notes/6"), rita
    )
    assert (await world.collab.received(bob)).items == []


async def _discoverable(world: World, name: str, *, discoverable: bool = True) -> Account:
    member = await make_member(world.store, name)
    await world.profiles.update_profile(
        member, headline=f"{name} teaches", discoverable=discoverable
    )
    return member


async def test_the_space_station_finds_discoverable_people_open_now(world: World) -> None:
    viewer = await make_member(world.store, "viewer")
    until = world.clock.now + timedelta(days=1)
    ann = await _discoverable(world, "ann")
    ben = await _discoverable(world, "ben")
    hidden = await _discoverable(world, "hidden", discoverable=False)
    python = await world.store.get_badge_by_slug("python")
    assert python is not None
    await world.store.set_member_badges(ann.id, [MemberBadgeEntry(python.id)], now=utc_now())
    await world.open_to.set_answers(ann, [OpenToEntry("mentoring", True)])
    await world.open_to.set_answers(ben, [OpenToEntry("mentoring", True, until)])
    await world.open_to.set_answers(hidden, [OpenToEntry("mentoring", True)])
    for uri, discoverable in (
        ("https://remote.example/users/rita", True),
        ("https://remote.example/users/ron", False),
    ):
        actor = remote_actor(uri.rsplit("/", 1)[-1])
        await world.store.upsert_remote_actor(actor)
        await world.store.save_remote_profile(
            RemoteProfile(
                actor_uri=actor.uri,
                is_fedipoly=True,
                discoverable=discoverable,
                headline="Remote teacher",
                badges=("python",),
                open_to=(OpenToEntry("mentoring", True, until + timedelta(days=1)),),
                refreshed_at=world.clock.now,
            )
        )

    async def handles(**filters: Any) -> list[str]:
        page = await world.station.search(viewer, "mentoring", **filters)
        return [match.handle for match in page.matches]

    assert await handles() == [
        "ann@fedipoly.test",
        "ben@fedipoly.test",
        "rita@remote.example",
    ]
    assert await handles(badge="python") == ["ann@fedipoly.test", "rita@remote.example"]
    assert await handles(text="REMOTE teach") == ["rita@remote.example"]
    assert await handles(text="ben") == ["ben@fedipoly.test"]
    assert (await world.station.search(viewer, "hiring")).matches == []

    # Pages of one, across local and remote.
    seen, cursor = [], None
    while True:
        page = await world.station.search(viewer, "mentoring", cursor=cursor, limit=1)
        seen += [match.handle for match in page.matches]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ["ann@fedipoly.test", "ben@fedipoly.test", "rita@remote.example"]

    # A blocked server's people are not found.
    block = DomainBlock("remote.example", "spam", None, utc_now())
    await world.store.put_domain_block(block)
    assert await handles() == ["ann@fedipoly.test", "ben@fedipoly.test"]
    await world.store.delete_domain_block("remote.example")

    world.clock.now = until + timedelta(seconds=1)  # ben's yes lapsed
    assert await handles() == ["ann@fedipoly.test", "rita@remote.example"]
    world.clock.now = until + timedelta(days=1, seconds=1)  # and rita's
    assert await handles() == ["ann@fedipoly.test"]
    with pytest.raises(ValidationFailed):
        await world.station.search(viewer, "mentoring", cursor="not a cursor!")
    with pytest.raises(NotFound):
        await world.station.search(viewer, "time_travel")


async def test_remote_badges_match_by_slug_or_by_normalised_name(world: World) -> None:
    viewer = await make_member(world.store, "viewer")
    catalogue = await world.open_to.catalogue()

    def person(name: str, badges: list[dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
        actor = remote_actor(name)
        document = {
            "id": actor.uri,
            "discoverable": True,
            "fedipoly:openTo": [{"fedipoly:reason": "mentoring", "fedipoly:open": True}],
            "fedipoly:badges": badges,
        }
        return actor, document

    # Rosa's server spells the badge "py_lang" but names it "Python", as our "python" badge.
    for actor, document in (
        person("rosa", [{"fedipoly:slug": "py_lang", "name": " PYTHON "}]),
        person("rita", [{"fedipoly:slug": "python", "name": "Snakes"}]),
        person("ron", [{"fedipoly:slug": "py", "name": "Pythonic"}]),
        person("rex", [{"fedipoly:slug": "knitting_club", "name": "Knitting club"}]),
    ):
        await world.store.upsert_remote_actor(actor)
        profile = remote_profile_of(actor, document, catalogue, world.clock.now)
        await world.store.save_remote_profile(profile)
    stored = await world.store.get_remote_profile(remote_actor("rosa").uri)
    assert stored is not None and stored.badges == ("py_lang",)

    async def handles(badge: str) -> list[str]:
        page = await world.station.search(viewer, "mentoring", badge=badge)
        return sorted(match.handle for match in page.matches)

    assert await handles("python") == ["rita@remote.example", "rosa@remote.example"]
    # A badge we do not have still matches remote profiles by its slug.
    assert await handles("knitting_club") == ["rex@remote.example"]


async def test_a_long_open_to_list_fits_mastodons_field_limit(world: World) -> None:
    admin = await make_member(world.store, "root", Role.ADMIN)
    bob = await make_member(world.store, "bob")
    for index in range(40):
        await world.open_to.add_reason(admin, f"reason_{index}", f"{index:02d} " + "x" * 56)
    catalogue = await world.open_to.catalogue()
    await world.open_to.set_answers(bob, [OpenToEntry(reason.slug, True) for reason in catalogue])
    actor = await world.profiles.actor_document(bob)
    fields = {field["name"]: field["value"] for field in actor["attachment"]}
    assert len(fields["Open to"]) <= 2047 and fields["Open to"].endswith(", …")
    assert fields["Open to"].startswith("Guest lecture, ")
    assert len(actor["fedipoly:openTo"]) == len(catalogue)  # the structured data keeps all


async def test_a_space_station_page_looks_at_a_bounded_number_of_people(world: World) -> None:
    viewer = await make_member(world.store, "viewer")
    names = ["amy", "bea", "cy", "dee", "eli"]
    for name in names:
        member = await _discoverable(world, name)
        await world.open_to.set_answers(member, [OpenToEntry("mentoring", True)])
    rita = remote_actor("rita")
    await world.store.upsert_remote_actor(rita)
    await world.store.save_remote_profile(
        RemoteProfile(
            actor_uri=rita.uri,
            is_fedipoly=True,
            discoverable=True,
            headline="eli's friend",
            badges=(),
            open_to=(OpenToEntry("mentoring", True),),
            refreshed_at=world.clock.now,
        )
    )
    station = SpaceStation(
        world.store,
        world.open_to,
        world.actors,
        world.urls,
        world.clock,
        max_scanned=2,
    )

    async def pages(text: str | None, limit: int) -> list[list[str]]:
        found, cursor = [], None
        while True:
            page = await station.search(viewer, "mentoring", text=text, cursor=cursor, limit=limit)
            found.append([match.handle.split("@")[0] for match in page.matches])
            cursor = page.next_cursor
            if cursor is None:
                return found

    # Words only eli (and rita's headline) match: each page looks at two people at most, so
    # the pages before them are empty but say where to go on.
    assert await pages("eli", 20) == [[], [], ["eli", "rita"]]
    # Pages that end exactly with the last local member go on with the remote ones
    # (account ids follow creation order).
    assert await pages(None, 1) == [[name] for name in names] + [["rita"]]
    assert await pages(None, 5) == [names[:2], names[2:4], [names[4], "rita"]]
