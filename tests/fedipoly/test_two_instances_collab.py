"""Collaboration across two Fedipoly instances over real signed HTTP: the Space Station finds a
member of the other instance by reason and badge, a request with an allowed reason reaches their
Requests inbox, *Interested* opens a conversation whose messages flow both ways, and a request
with a disallowed reason is refused by the sender's instance and, forced in as a raw signed
activity, by the recipient's. Non-discoverable members never appear."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from federation.httpsig import sign_request
from federation.vocab import ACTIVITY_JSON
from fedipoly import appkeys
from fedipoly.collab_models import OpenToEntry, RequestState
from fedipoly.models import Account, DeliveryState, InboxState, MemberBadgeEntry, utc_now
from fedipoly.services.collab import REQUEST_PROPERTY
from tests.instances import Instance, eventually, running_instances


async def token_for(instance: Instance, account: Account) -> dict[str, str]:
    issued = await instance.app[appkeys.ACCOUNTS].issue_token(account, "tests")
    return {"Authorization": f"Bearer {issued.secret}"}


async def call(
    instance: Instance, method: str, path: str, auth: dict[str, str], body: Any = None
) -> tuple[int, Any]:
    response = await instance.client.request(method, path, headers=auth, json=body)
    text = await response.text()
    return response.status, json.loads(text) if text else None


async def open_member(
    instance: Instance, username: str, *, discoverable: bool, until: datetime | None = None
) -> Account:
    member = await instance.member(username)
    app = instance.app
    await app[appkeys.PROFILES].update_profile(
        member, headline=f"{username} teaches Python", discoverable=discoverable
    )
    python = await app[appkeys.STORE].get_badge_by_slug("python")
    assert python is not None
    await app[appkeys.STORE].set_member_badges(
        member.id, [MemberBadgeEntry(python.id, featured=True)], now=utc_now()
    )
    await app[appkeys.OPEN_TO].set_answers(
        member,
        [OpenToEntry("mentoring", True, until), OpenToEntry("angel_investing", False)],
    )
    return member


async def force_signed(
    sender: Instance, member: Account, target: Instance, inbox_path: str, activity: Any
) -> int:
    """POST an activity to `target` signed with the member's real key, as their server would."""
    private_pem = await sender.app[appkeys.STORE].get_private_key(member.id)
    assert private_pem is not None
    body = json.dumps(activity).encode()
    url = f"{target.base_url}{inbox_path}"
    headers = {"Content-Type": ACTIVITY_JSON}
    headers |= sign_request(
        method="POST",
        url=url,
        headers=headers,
        body=body,
        key_id=f"{sender.actor(member.username)}#main-key",
        private_key_pem=private_pem,
        now=datetime.now(UTC),
    )
    response = await target.client.post(inbox_path, data=body, headers=headers)
    return response.status


async def test_find_ask_and_talk_across_instances(
    tmp_path: Path, backend: str, mongo_url: str | None
) -> None:
    async with running_instances(
        tmp_path, ["alpha", "beta"], backend=backend, mongo_url=mongo_url
    ) as instances:
        alpha, beta = instances["alpha"], instances["beta"]
        alice = await alpha.member("alice")
        bob = await open_member(beta, "bob", discoverable=True)
        hidden = await open_member(beta, "hidden", discoverable=False)
        as_alice, as_bob = await token_for(alpha, alice), await token_for(beta, bob)
        alpha_store, beta_store = alpha.app[appkeys.STORE], beta.app[appkeys.STORE]

        # alpha gets to know both of beta's members: alice follows bob, and opens the
        # Collaborate form for hidden (each fetches the actor, whose profile alpha keeps).
        await alpha.app[appkeys.FOLLOWS].follow(alice, beta.handle("bob"))
        assert await alpha.app[appkeys.COLLAB].open_reasons_of(beta.handle("hidden")) == [
            ("mentoring", "Mentoring")
        ]

        async def station(query: str) -> list[str]:
            status, page = await call(alpha, "GET", f"/api/v1/space_station?{query}", as_alice)
            assert status == 200, page
            return [item["handle"] for item in page["items"]]

        # --- the Space Station finds bob by reason and badge; never the hidden member ------
        assert await station("reason=mentoring&badge=python") == [beta.handle("bob")]
        assert await station("reason=mentoring&badge=python&q=teaches") == [beta.handle("bob")]
        assert await station("reason=mentoring&badge=chess") == []
        assert await station("reason=angel_investing") == []

        # --- a disallowed reason is refused on alpha: nothing stored, nothing sent ---------
        refused = {"to": beta.handle("bob"), "reason": "angel_investing", "message": "Invest?"}
        status, error = await call(alpha, "POST", "/api/v1/collab_requests", as_alice, refused)
        assert status == 400 and error["detail"]["open_to"] == ["mentoring"]
        assert await alpha_store.sent_collab_requests(alice.id, before=None, limit=5) == []

        # --- an allowed request reaches bob's Requests inbox on beta -----------------------
        allowed = {"to": beta.handle("bob"), "reason": "mentoring", "message": "Mentor me?"}
        status, made = await call(alpha, "POST", "/api/v1/collab_requests", as_alice, allowed)
        assert status == 201, made
        outbound = await alpha_store.get_outbound(
            f"{alpha.actor('alice')}#requests/{made['id']}/activity"
        )
        assert outbound is not None
        note = json.loads(outbound.raw)["object"]
        assert note["to"] == [beta.actor("bob")] and note["cc"] == []
        assert note[REQUEST_PROPERTY]["fedipoly:reason"] == "mentoring"
        assert "Collaboration request: Mentoring" in note["content"]

        async def bobs_requests() -> list[dict[str, Any]]:
            _status, page = await call(beta, "GET", "/api/v1/collab_requests", as_bob)
            return list(page["items"])

        (received,) = await eventually(bobs_requests)
        assert received["sender"]["handle"] == alpha.handle("alice")
        assert (received["reason"], received["message"]) == ("mentoring", "Mentor me?")
        # The request is not an ordinary post: nothing on bob's home timeline.
        assert await beta.home(bob) == []

        # --- forced in as a raw signed activity, a disallowed reason is refused on beta ----
        failed_before = await beta_store.count_inbox(InboxState.FAILED)
        forced_id = f"{alpha.actor('alice')}#requests/forced"
        forced = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{forced_id}/activity",
            "type": "Create",
            "actor": alpha.actor("alice"),
            "to": [beta.actor("bob")],
            "object": {
                "id": forced_id,
                "type": "Note",
                "attributedTo": alpha.actor("alice"),
                "to": [beta.actor("bob")],
                "content": "<p>Collaboration request: Angel investing</p>",
                REQUEST_PROPERTY: {"fedipoly:reason": "angel_investing", "fedipoly:message": "$$"},
            },
        }
        assert await force_signed(alpha, alice, beta, "/users/bob/inbox", forced) == 202

        async def refused_on_beta() -> bool:
            return await beta_store.count_inbox(InboxState.FAILED) == failed_before + 1

        await eventually(refused_on_beta)
        assert [item["id"] for item in await bobs_requests()] == [received["id"]]
        assert await beta_store.get_post_by_uri(forced_id) is None

        # --- Interested opens a conversation; messages flow both ways ----------------------
        status, conversation = await call(
            beta,
            "POST",
            f"/api/v1/collab_requests/{received['id']}/interested",
            as_bob,
            {"message": "Happy to mentor you!"},
        )
        assert status == 201, conversation

        async def alices_conversation() -> dict[str, Any] | None:
            _status, page = await call(alpha, "GET", "/api/v1/conversations", as_alice)
            if not page["items"]:
                return None
            _status, found = await call(
                alpha, "GET", f"/api/v1/conversations/{page['items'][0]['id']}", as_alice
            )
            return found if found["messages"] else None

        on_alpha = await eventually(alices_conversation)
        assert on_alpha is not None
        assert on_alpha["peer"]["handle"] == beta.handle("bob")
        assert "Happy to mentor you!" in on_alpha["messages"][0]["content_html"]
        sent_by_alice = await alpha_store.sent_collab_requests(alice.id, before=None, limit=5)
        assert [item.state for item in sent_by_alice] == [RequestState.ACCEPTED]

        status, message = await call(
            alpha,
            "POST",
            f"/api/v1/conversations/{on_alpha['id']}/messages",
            as_alice,
            {"text": "Wonderful, thank you!"},
        )
        assert status == 201 and message["in_reply_to"] == on_alpha["messages"][0]["uri"]

        async def bobs_messages() -> list[str]:
            _status, found = await call(
                beta, "GET", f"/api/v1/conversations/{conversation['id']}", as_bob
            )
            return [item["content_html"] for item in found["messages"]]

        async def alice_answered() -> bool:
            return len(await bobs_messages()) == 2

        await eventually(alice_answered)
        assert "Wonderful, thank you!" in (await bobs_messages())[0]

        # --- remote profiles are refreshed in the background -------------------------------
        # hidden becomes discoverable; alpha has no reason to hear of it (no follower there)
        # until its copy is stale and the worker job reads the actor again.
        await beta.app[appkeys.PROFILES].update_profile(hidden, discoverable=True)
        assert await station("reason=mentoring") == [beta.handle("bob")]
        stale = await alpha_store.get_remote_profile(beta.actor("hidden"))
        assert stale is not None
        refresh_after = alpha.config.collaboration.remote_profile_refresh_seconds
        old = stale.refreshed_at - timedelta(seconds=refresh_after + 1)
        await alpha_store.save_remote_profile(dataclasses.replace(stale, refreshed_at=old))

        async def both_found() -> bool:
            return await station("reason=mentoring") == sorted(
                [beta.handle("bob"), beta.handle("hidden")]
            )

        await eventually(both_found)

        for instance in (alpha, beta):
            assert await instance.app[appkeys.STORE].count_deliveries(DeliveryState.GAVE_UP) == 0
