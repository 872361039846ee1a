"""InboxVerifier end to end: real signatures, real key fetches from loopback instances.

Inbound requests are built with the signing functions a peer would use and handed to
``verify`` as the web handler would; the signers' actors and keys are served by the
``Remote`` instances of ``test_keyresolver.py``, which count every fetch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from federation.client import FederationClient
from federation.httpsig import sign_request, sign_request_rfc9421
from federation.inbox import (
    DEFAULT_RULE,
    RULES,
    InboxLimits,
    InboxRejected,
    InboxVerifier,
    SkipActivity,
    VerifiedActivity,
)
from federation.keyresolver import KeyResolver
from federation.ports import ActorKey
from federation.vocab import ACTIVITY_JSON, AS_CONTEXT, PUBLIC
from tests.federation.test_keyresolver import (
    LOCAL,
    MemoryKeyCache,
    Remote,
    actor_doc,
    cache,
    client,
    elsewhere,
    instance_signer,
    keypair,
    remote,
    remotes,
    resolver,
)

__all__ = ["cache", "client", "elsewhere", "remote", "remotes", "resolver"]  # fixtures

NOW = datetime(2026, 11, 26, 13, 55, 48, tzinfo=UTC)
INBOX = f"{LOCAL}/inbox"


def make_verifier(resolver: KeyResolver, **limits: Any) -> InboxVerifier:
    return InboxVerifier(
        resolver,
        local_origin=LOCAL,
        scheme="https",
        limits=InboxLimits(**limits),
        clock=lambda: NOW,
    )


@pytest.fixture
def verifier(resolver: KeyResolver) -> InboxVerifier:
    return make_verifier(resolver)


def signed(
    activity: Mapping[str, Any] | bytes,
    *,
    key_id: str,
    key: str,
    now: datetime = NOW,
    rfc9421: bool = False,
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a POST to our inbox, signed the way Mastodon (or Fedify) signs."""
    body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
    headers = {"Content-Type": ACTIVITY_JSON}
    if rfc9421:
        added = sign_request_rfc9421(
            method="POST",
            url=INBOX,
            body=body,
            key_id=key_id,
            private_key_pem=keypair(key).private_pem,
            now=now,
        )
    else:
        added = sign_request(
            method="POST",
            url=INBOX,
            headers=headers,
            body=body,
            key_id=key_id,
            private_key_pem=keypair(key).private_pem,
            now=now,
        )
    headers.update(added)
    return headers, body


async def deliver(
    verifier: InboxVerifier, headers: Mapping[str, str], body: bytes
) -> VerifiedActivity:
    return await verifier.verify(method="POST", target="/inbox", headers=headers, body=body)


def create_note(actor: str, *, note_id: str | None = None, **note: Any) -> dict[str, Any]:
    nid = note_id or f"{actor}/statuses/1"
    return {
        "@context": AS_CONTEXT,
        "id": f"{nid}/activity",
        "type": "Create",
        "actor": actor,
        "to": [PUBLIC],
        "object": {"id": nid, "type": "Note", "attributedTo": actor, "content": "hi", **note},
    }


async def expect_rejected(
    verifier: InboxVerifier, headers: Mapping[str, str], body: bytes, status: int
) -> InboxRejected:
    with pytest.raises(InboxRejected) as info:
        await deliver(verifier, headers, body)
    assert info.value.status == status, info.value.message
    return info.value


# -- accepted --------------------------------------------------------------------------------


async def test_signed_create_is_verified_and_key_cached(
    verifier: InboxVerifier, remote: Remote, cache: MemoryKeyCache
) -> None:
    actor, key_id = remote.add_actor("bob")
    activity = create_note(actor)
    # Mastodon and Fedify embed LD signatures; they are ignored, not an error.
    activity["signature"] = {"type": "RsaSignature2017", "signatureValue": "AAAA"}
    headers, body = signed(activity, key_id=key_id, key="bob")
    result = await deliver(verifier, headers, body)
    assert result == VerifiedActivity(activity=activity, actor=actor, key_id=key_id, raw=body)
    assert remote.requests == ["/users/bob"]
    assert cache.keys[key_id].owner == actor

    # The next delivery uses the cached key: no fetch.
    headers, body = signed(
        create_note(actor, note_id=f"{actor}/statuses/2"), key_id=key_id, key="bob"
    )
    await deliver(verifier, headers, body)
    assert remote.requests == ["/users/bob"]


async def test_hs2019_is_accepted(verifier: InboxVerifier, remote: Remote) -> None:
    actor, key_id = remote.add_actor("bob")
    headers, body = signed(create_note(actor), key_id=key_id, key="bob")
    # The algorithm is not part of the cavage signing string; hs2019 means "ask the key".
    headers["Signature"] = headers["Signature"].replace(
        'algorithm="rsa-sha256"', 'algorithm="hs2019"'
    )
    assert 'algorithm="hs2019"' in headers["Signature"]
    assert (await deliver(verifier, headers, body)).actor == actor


async def test_rfc9421_is_accepted(verifier: InboxVerifier, remote: Remote) -> None:
    actor, key_id = remote.add_actor("bob")
    headers, body = signed(create_note(actor), key_id=key_id, key="bob", rfc9421=True)
    assert "Signature-Input" in headers
    assert (await deliver(verifier, headers, body)).actor == actor


async def test_gotosocial_style_key_id(verifier: InboxVerifier, remote: Remote) -> None:
    actor, key_id = remote.add_actor("gts", key_path="/main-key")
    remote.serve(
        "/users/gts/main-key",
        {"id": key_id, "owner": actor, "publicKeyPem": keypair("gts").public_pem},
    )
    headers, body = signed(create_note(actor), key_id=key_id, key="gts")
    assert (await deliver(verifier, headers, body)).key_id == key_id


async def test_embedded_actor_is_reduced_to_its_id(verifier: InboxVerifier, remote: Remote) -> None:
    actor, key_id = remote.add_actor("bob")
    activity = create_note(actor)
    # Misskey #2529: an inline actor carrying its own key. Only the id counts.
    activity["actor"] = {"id": actor, "type": "Person", "publicKey": {"publicKeyPem": "x"}}
    headers, body = signed(activity, key_id=key_id, key="bob")
    assert (await deliver(verifier, headers, body)).actor == actor


async def test_key_rotation_refetches_once(
    verifier: InboxVerifier, remote: Remote, cache: MemoryKeyCache
) -> None:
    actor, key_id = remote.add_actor("bob", key="bob-new")
    cache.keys[key_id] = ActorKey(key_id, actor, keypair("bob-old").public_pem)
    headers, body = signed(create_note(actor), key_id=key_id, key="bob-new")
    assert (await deliver(verifier, headers, body)).actor == actor
    assert remote.requests == ["/users/bob"]
    assert cache.keys[key_id].public_key_pem == keypair("bob-new").public_pem


async def test_failed_refetch_is_not_repeated(
    verifier: InboxVerifier, remote: Remote, cache: MemoryKeyCache
) -> None:
    actor, key_id = remote.add_actor("bob")
    cache.keys[key_id] = ActorKey(key_id, actor, keypair("bob").public_pem)
    headers, body = signed(create_note(actor), key_id=key_id, key="mallory")
    await expect_rejected(verifier, headers, body, 401)
    assert remote.requests == ["/users/bob"]  # refetched once...
    await expect_rejected(verifier, headers, body, 401)
    assert remote.requests == ["/users/bob"]  # ...and not again within the cool-down


async def test_delete_of_known_actor_uses_cached_key_only(
    verifier: InboxVerifier, remote: Remote, cache: MemoryKeyCache
) -> None:
    actor = remote.url("/users/bob")
    key_id = actor + "#main-key"
    remote.serve("/users/bob", {"error": "gone"}, status=410)
    cache.keys[key_id] = ActorKey(key_id, actor, keypair("bob").public_pem)
    delete = {"id": f"{actor}#delete", "type": "Delete", "actor": actor, "object": actor}
    headers, body = signed(delete, key_id=key_id, key="bob")
    assert (await deliver(verifier, headers, body)).activity["type"] == "Delete"
    assert remote.requests == []


async def test_announce_of_foreign_and_local_objects(
    verifier: InboxVerifier, remote: Remote, elsewhere: Remote
) -> None:
    actor, key_id = remote.add_actor("bob")
    for n, target in enumerate((elsewhere.url("/notes/1"), f"{LOCAL}/users/alice/statuses/1")):
        announce = {
            "id": f"{actor}/boosts/{n}",
            "type": "Announce",
            "actor": actor,
            "object": target,
        }
        headers, body = signed(announce, key_id=key_id, key="bob")
        await deliver(verifier, headers, body)
    embedded = {
        "id": f"{actor}/boosts/e",
        "type": "Announce",
        "actor": actor,
        "object": {"id": elsewhere.url("/notes/1"), "type": "Note", "content": "unverified"},
    }
    headers, body = signed(embedded, key_id=key_id, key="bob")
    await deliver(verifier, headers, body)


async def test_accept_of_our_follow(verifier: InboxVerifier, remote: Remote) -> None:
    actor, key_id = remote.add_actor("bob")
    follow = {
        "id": f"{LOCAL}/follows/1",
        "type": "Follow",
        "actor": f"{LOCAL}/users/alice",
        "object": actor,
    }
    for n, obj in enumerate((follow, follow["id"])):
        accept = {"id": f"{actor}#accepts/{n}", "type": "Accept", "actor": actor, "object": obj}
        headers, body = signed(accept, key_id=key_id, key="bob")
        await deliver(verifier, headers, body)


async def test_follow_undo_follow_like(verifier: InboxVerifier, remote: Remote) -> None:
    actor, key_id = remote.add_actor("bob")
    alice = f"{LOCAL}/users/alice"
    follow = {"id": f"{actor}#follows/1", "type": "Follow", "actor": actor, "object": alice}
    undo = {"id": f"{actor}#follows/1/undo", "type": "Undo", "actor": actor, "object": follow}
    like = {
        "id": f"{actor}#likes/1",
        "type": "Like",
        "actor": actor,
        "object": f"{alice}/statuses/1",
    }
    for activity in (follow, undo, like):
        headers, body = signed(activity, key_id=key_id, key="bob")
        await deliver(verifier, headers, body)


async def test_update_of_own_profile(verifier: InboxVerifier, remote: Remote) -> None:
    actor, key_id = remote.add_actor("bob")
    _, doc, _ = remote.docs["/users/bob"]
    update = {"id": f"{actor}#updates/1", "type": "Update", "actor": actor, "object": doc}
    headers, body = signed(update, key_id=key_id, key="bob")
    await deliver(verifier, headers, body)


async def test_peertube_style_attribution(verifier: InboxVerifier, remote: Remote) -> None:
    actor, key_id = remote.add_actor("bob")
    channel = remote.url("/video-channels/bob_channel")
    activity = create_note(actor, attributedTo=[{"id": actor, "type": "Person"}, channel])
    headers, body = signed(activity, key_id=key_id, key="bob")
    await deliver(verifier, headers, body)


# -- rejected: transport and signature ----------------------------------------------------------


async def test_oversized_body(verifier: InboxVerifier, remote: Remote) -> None:
    actor, key_id = remote.add_actor("bob")
    activity = create_note(actor, content="x" * (256 * 1024))
    headers, body = signed(activity, key_id=key_id, key="bob")
    await expect_rejected(verifier, headers, body, 413)
    assert remote.requests == []


async def test_deep_nesting_is_400_without_recursion_error(verifier: InboxVerifier) -> None:
    body = b'{"a":' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    error = await expect_rejected(verifier, {}, body, 400)
    assert "nested" in error.message


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"x"', b"\xff\xfe{}", b"{}"])
async def test_malformed_bodies(verifier: InboxVerifier, body: bytes) -> None:
    await expect_rejected(verifier, {}, body, 400)


@pytest.mark.parametrize(
    "actor",
    [None, "", ["http://a.test/1", "http://a.test/2"], "javascript:alert(1)", {"type": "Person"}],
)
async def test_bad_actor_field(verifier: InboxVerifier, actor: Any) -> None:
    body = json.dumps({"type": "Create", "actor": actor, "object": "http://a.test/x"}).encode()
    await expect_rejected(verifier, {}, body, 400)


async def test_unsigned(verifier: InboxVerifier, remote: Remote) -> None:
    actor, _ = remote.add_actor("bob")
    body = json.dumps(create_note(actor)).encode()
    error = await expect_rejected(verifier, {"Content-Type": ACTIVITY_JSON}, body, 401)
    assert "not signed" in error.message
    assert remote.requests == []


async def test_tampered_body(verifier: InboxVerifier, remote: Remote) -> None:
    actor, key_id = remote.add_actor("bob")
    headers, body = signed(create_note(actor), key_id=key_id, key="bob")
    tampered = body.replace(b'"hi"', b'"pwned"')
    error = await expect_rejected(verifier, headers, tampered, 401)
    assert "Digest" in error.message


@pytest.mark.parametrize("offset", [timedelta(hours=-2), timedelta(hours=2)])
async def test_stale_or_future_date(
    verifier: InboxVerifier, remote: Remote, offset: timedelta
) -> None:
    actor, key_id = remote.add_actor("bob")
    headers, body = signed(create_note(actor), key_id=key_id, key="bob", now=NOW + offset)
    error = await expect_rejected(verifier, headers, body, 401)
    assert "time window" in error.message
    assert remote.requests == []  # refused before any key fetch


async def test_dates_inside_the_window_are_accepted(
    verifier: InboxVerifier, remote: Remote
) -> None:
    actor, key_id = remote.add_actor("bob")
    for offset in (timedelta(minutes=-60), timedelta(minutes=55)):
        headers, body = signed(create_note(actor), key_id=key_id, key="bob", now=NOW + offset)
        await deliver(verifier, headers, body)


async def test_wrong_key(verifier: InboxVerifier, remote: Remote, cache: MemoryKeyCache) -> None:
    actor, key_id = remote.add_actor("bob")
    headers, body = signed(create_note(actor), key_id=key_id, key="mallory")
    error = await expect_rejected(verifier, headers, body, 401)
    assert "does not verify" in error.message
    assert remote.requests == ["/users/bob"]


async def test_signer_is_not_the_actor(verifier: InboxVerifier, remote: Remote) -> None:
    _, bob_key = remote.add_actor("bob")
    carol, _ = remote.add_actor("carol")
    headers, body = signed(create_note(carol), key_id=bob_key, key="bob")
    error = await expect_rejected(verifier, headers, body, 401)
    assert "signed by" in error.message


async def test_signer_on_another_origin_is_refused_without_fetch(
    verifier: InboxVerifier, remote: Remote, elsewhere: Remote
) -> None:
    actor, _ = remote.add_actor("bob")
    _, eve_key = elsewhere.add_actor("eve")
    headers, body = signed(create_note(actor), key_id=eve_key, key="eve")
    await expect_rejected(verifier, headers, body, 401)
    assert remote.requests == elsewhere.requests == []


async def test_key_document_on_another_origin_is_refused(
    verifier: InboxVerifier, remote: Remote, elsewhere: Remote
) -> None:
    # keyId on A; A's document says the actor (and its key) live on B.
    actor = remote.url("/users/bob")
    key_id = actor + "#main-key"
    forged_owner = elsewhere.url("/users/bob")
    entry = {"id": key_id, "owner": forged_owner, "publicKeyPem": keypair("bob").public_pem}
    remote.serve("/users/bob", actor_doc(forged_owner, entry))
    headers, body = signed(create_note(actor), key_id=key_id, key="bob")
    error = await expect_rejected(verifier, headers, body, 401)
    assert "origin" in error.message
    assert elsewhere.requests == []


async def test_unreachable_key_is_503(resolver: KeyResolver, remote: Remote) -> None:
    verifier = make_verifier(resolver)
    actor, key_id = remote.add_actor("bob")
    remote.serve("/users/bob", {"error": "busy"}, status=503)
    headers, body = signed(create_note(actor), key_id=key_id, key="bob")
    await expect_rejected(verifier, headers, body, 503)
    await expect_rejected(verifier, headers, body, 503)
    assert remote.requests == ["/users/bob"]  # the cool-down spared the struggling host


async def test_gone_signer_is_skipped(verifier: InboxVerifier, remote: Remote) -> None:
    actor = remote.url("/users/bob")
    remote.serve("/users/bob", {"error": "gone"}, status=410)
    headers, body = signed(create_note(actor), key_id=actor + "#main-key", key="bob")
    with pytest.raises(SkipActivity):
        await deliver(verifier, headers, body)


async def test_delete_of_unknown_actor_is_skipped_without_fetch(
    verifier: InboxVerifier, remote: Remote
) -> None:
    actor, key_id = remote.add_actor("bob")
    delete = {"id": f"{actor}#delete", "type": "Delete", "actor": actor, "object": actor}
    headers, body = signed(delete, key_id=key_id, key="bob")
    with pytest.raises(SkipActivity):
        await deliver(verifier, headers, body)
    assert remote.requests == []


async def test_delete_of_known_actor_with_bad_signature(
    verifier: InboxVerifier, remote: Remote, cache: MemoryKeyCache
) -> None:
    actor, key_id = remote.add_actor("bob")
    cache.keys[key_id] = ActorKey(key_id, actor, keypair("bob").public_pem)
    delete = {"id": f"{actor}#delete", "type": "Delete", "actor": actor, "object": actor}
    headers, body = signed(delete, key_id=key_id, key="mallory")
    await expect_rejected(verifier, headers, body, 401)
    assert remote.requests == []


# -- rejected: ids the actor may not assert -------------------------------------------------------


async def verified_bob(remote: Remote, cache: MemoryKeyCache) -> tuple[str, str]:
    actor, key_id = remote.add_actor("bob")
    cache.keys[key_id] = ActorKey(key_id, actor, keypair("bob").public_pem)
    return actor, key_id


async def test_foreign_activity_id(
    verifier: InboxVerifier, remote: Remote, elsewhere: Remote, cache: MemoryKeyCache
) -> None:
    actor, key_id = await verified_bob(remote, cache)
    activity = create_note(actor)
    activity["id"] = elsewhere.url("/activities/1")
    headers, body = signed(activity, key_id=key_id, key="bob")
    error = await expect_rejected(verifier, headers, body, 403)
    assert "not on the actor's origin" in error.message


async def test_foreign_embedded_object(
    verifier: InboxVerifier, remote: Remote, elsewhere: Remote, cache: MemoryKeyCache
) -> None:
    actor, key_id = await verified_bob(remote, cache)
    activity = create_note(actor, note_id=elsewhere.url("/notes/1"))
    activity["id"] = f"{actor}/statuses/1/activity"
    headers, body = signed(activity, key_id=key_id, key="bob")
    await expect_rejected(verifier, headers, body, 403)


@pytest.mark.parametrize("where", ["activity", "object"])
async def test_our_own_ids_from_outside(
    verifier: InboxVerifier, remote: Remote, cache: MemoryKeyCache, where: str
) -> None:
    actor, key_id = await verified_bob(remote, cache)
    activity = create_note(actor)
    if where == "activity":
        activity["id"] = f"{LOCAL}/activities/1"
    else:
        activity["object"]["id"] = f"{LOCAL}/users/alice/statuses/1"
    headers, body = signed(activity, key_id=key_id, key="bob")
    error = await expect_rejected(verifier, headers, body, 403)
    assert "claims an id on this server" in error.message


async def test_attributed_to_someone_else(
    verifier: InboxVerifier, remote: Remote, cache: MemoryKeyCache
) -> None:
    actor, key_id = await verified_bob(remote, cache)
    activity = create_note(actor, attributedTo=remote.url("/users/carol"))
    headers, body = signed(activity, key_id=key_id, key="bob")
    await expect_rejected(verifier, headers, body, 403)


async def test_update_of_another_actor(
    verifier: InboxVerifier, remote: Remote, cache: MemoryKeyCache
) -> None:
    actor, key_id = await verified_bob(remote, cache)
    carol = remote.url("/users/carol")
    update = {
        "id": f"{actor}#updates/1",
        "type": "Update",
        "actor": actor,
        "object": actor_doc(carol, []),
    }
    headers, body = signed(update, key_id=key_id, key="bob")
    await expect_rejected(verifier, headers, body, 403)


async def test_embedded_announce_claiming_our_object(
    verifier: InboxVerifier, remote: Remote, cache: MemoryKeyCache
) -> None:
    actor, key_id = await verified_bob(remote, cache)
    announce = {
        "id": f"{actor}/boosts/1",
        "type": "Announce",
        "actor": actor,
        "object": {"id": f"{LOCAL}/users/alice/statuses/1", "type": "Note", "content": "forged"},
    }
    headers, body = signed(announce, key_id=key_id, key="bob")
    await expect_rejected(verifier, headers, body, 403)


async def test_undo_of_someone_elses_follow(
    verifier: InboxVerifier, remote: Remote, cache: MemoryKeyCache
) -> None:
    actor, key_id = await verified_bob(remote, cache)
    carol = remote.url("/users/carol")
    follow = {
        "id": f"{actor}#follows/9",
        "type": "Follow",
        "actor": carol,
        "object": f"{LOCAL}/users/alice",
    }
    undo = {"id": f"{actor}#undo/9", "type": "Undo", "actor": actor, "object": follow}
    headers, body = signed(undo, key_id=key_id, key="bob")
    await expect_rejected(verifier, headers, body, 403)


async def test_accept_by_someone_not_followed(
    verifier: InboxVerifier, remote: Remote, cache: MemoryKeyCache
) -> None:
    actor, key_id = await verified_bob(remote, cache)
    follow = {
        "id": f"{LOCAL}/follows/1",
        "type": "Follow",
        "actor": f"{LOCAL}/users/alice",
        "object": remote.url("/users/carol"),
    }
    accept = {"id": f"{actor}#accepts/1", "type": "Accept", "actor": actor, "object": follow}
    headers, body = signed(accept, key_id=key_id, key="bob")
    error = await expect_rejected(verifier, headers, body, 403)
    assert "followed actor" in error.message


async def test_accept_of_a_third_party_follow(
    verifier: InboxVerifier, remote: Remote, elsewhere: Remote, cache: MemoryKeyCache
) -> None:
    actor, key_id = await verified_bob(remote, cache)
    accept = {
        "id": f"{actor}#accepts/2",
        "type": "Accept",
        "actor": actor,
        "object": elsewhere.url("/f/1"),
    }
    headers, body = signed(accept, key_id=key_id, key="bob")
    await expect_rejected(verifier, headers, body, 403)


async def test_move_of_another_account(
    verifier: InboxVerifier, remote: Remote, cache: MemoryKeyCache
) -> None:
    actor, key_id = await verified_bob(remote, cache)
    move = {
        "id": f"{actor}#moves/1",
        "type": "Move",
        "actor": actor,
        "object": remote.url("/users/carol"),
        "target": remote.url("/users/bob2"),
    }
    headers, body = signed(move, key_id=key_id, key="bob")
    await expect_rejected(verifier, headers, body, 403)


@pytest.mark.parametrize("kind", ["Create", "Delete", "Undo", "Accept", "Follow", "Announce"])
async def test_object_required(
    verifier: InboxVerifier, remote: Remote, cache: MemoryKeyCache, kind: str
) -> None:
    actor, key_id = await verified_bob(remote, cache)
    headers, body = signed(
        {"id": f"{actor}#x", "type": kind, "actor": actor}, key_id=key_id, key="bob"
    )
    await expect_rejected(verifier, headers, body, 400)


async def test_create_object_without_id(
    verifier: InboxVerifier, remote: Remote, cache: MemoryKeyCache
) -> None:
    actor, key_id = await verified_bob(remote, cache)
    activity = create_note(actor)
    del activity["object"]["id"]
    headers, body = signed(activity, key_id=key_id, key="bob")
    await expect_rejected(verifier, headers, body, 400)


def test_every_rule_explains_itself() -> None:
    for rule in (*RULES.values(), DEFAULT_RULE):
        assert len(rule.why) > 40


async def test_client_fixture_allows_only_the_remotes(client: FederationClient) -> None:
    assert client.policy.allowed_private_hosts
    assert callable(instance_signer)
