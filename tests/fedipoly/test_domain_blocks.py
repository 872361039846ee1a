"""Two Fedipoly instances on loopback, real signed HTTP both ways: reports travel as `Flag`s,
then a domain block cuts one server off.

* beta's moderator forwards a member's report about alice's post: beta sends a `Flag` from
  its instance actor, and alpha stores it as a report (the reporter stays anonymous);
* alpha's admin blocks beta: what alpha cached from beta (actors, follows, posts) is purged;
  beta's signed inbox POSTs are answered 403 and leave nothing behind; nothing more is
  delivered from alpha to beta, not even deliveries queued before the block.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from fedipoly import appkeys
from fedipoly.errors import NotFound
from fedipoly.models import (
    Account,
    DeliveryState,
    FollowState,
    InboxState,
    OutboundActivity,
    Role,
    Visibility,
    utc_now,
)
from fedipoly.moderation_models import ReportState, ReportTarget
from fedipoly.store.base import Store
from tests.contract.test_federation_store import remote_actor
from tests.fedipoly import test_cli
from tests.fedipoly.services.test_badge_actors import CHESS, follow_badge
from tests.fedipoly.test_cli import RunCli
from tests.instances import Instance, eventually, running_instances


async def staff(instance: Instance, username: str, role: Role) -> Account:
    return await instance.app[appkeys.ACCOUNTS].register(
        username=username,
        email=f"{username}@{instance.name}.test",
        password="correct horse battery",
        invite_code=None,
        role=role,
        bypass_registration_mode=True,
    )


async def inbox_rows(store: Store) -> int:
    return sum([await store.count_inbox(state) for state in InboxState])


async def follow_accepted(follower: Instance, who: Account, followed: Instance, whom: str) -> None:
    await follower.app[appkeys.FOLLOWS].follow(who, followed.handle(whom))
    store = follower.app[appkeys.STORE]

    async def accepted() -> bool:
        found = await store.get_follow(follower.actor(who.username), followed.actor(whom))
        return found is not None and found.state is FollowState.ACCEPTED

    await eventually(accepted)


async def test_reports_travel_as_flags_and_a_domain_block_cuts_a_server_off(
    tmp_path: Path, backend: str, mongo_url: str | None
) -> None:
    async with running_instances(
        tmp_path, ["alpha", "beta"], backend=backend, mongo_url=mongo_url
    ) as instances:
        alpha, beta = instances["alpha"], instances["beta"]
        alpha_store, beta_store = alpha.app[appkeys.STORE], beta.app[appkeys.STORE]
        alice, bob = await alpha.member("alice"), await beta.member("bob")
        alpha_admin = await staff(alpha, "ada", Role.ADMIN)
        beta_mod = await staff(beta, "mo", Role.MODERATOR)
        await follow_accepted(beta, bob, alpha, "alice")
        await follow_accepted(alpha, alice, beta, "bob")

        # --- a report forwarded as a Flag ------------------------------------------------
        spam = await alpha.post(alice, "Cheap watches at example.test")
        await eventually(lambda: beta_store.get_post_by_uri(spam.uri))
        report = await beta.app[appkeys.MODERATION].report(
            bob, "post", spam.uri, "Spam, posted everywhere"
        )
        closed = await beta.app[appkeys.MODERATION].resolve_report(
            beta_mod, report.id, action="resolve", note="Forwarded", forward=True
        )
        assert closed.forwarded

        async def flagged() -> list:
            return await alpha_store.list_reports(None, before=None, limit=10)

        [received] = await eventually(flagged)
        assert received.target_kind is ReportTarget.POST
        assert received.target == spam.uri
        assert received.target_actor == alpha.actor("alice")
        assert received.comment == "Spam, posted everywhere"
        assert received.state is ReportState.OPEN
        assert received.reporter_actor == f"{beta.base_url}/actor"  # beta itself, not bob
        assert received.reporter_account_id is None
        [sent] = [
            delivery
            for delivery in await beta_store.list_deliveries(
                f"{beta.base_url}/reports/{report.id}/flag"
            )
        ]
        assert sent.inbox_url == f"{alpha.base_url}/users/alice/inbox"
        outbound = await beta_store.get_outbound(sent.activity_id)
        assert outbound is not None
        flag = json.loads(outbound.raw)
        assert flag["type"] == "Flag" and flag["object"] == [alpha.actor("alice"), spam.uri]
        assert "bob" not in outbound.raw

        # --- alpha caches beta's content ------------------------------------------------
        hello = await beta.post(bob, "Hello from beta")
        await eventually(lambda: alpha_store.get_post_by_uri(hello.uri))

        # --- the block ------------------------------------------------------------------
        token = (await alpha.app[appkeys.ACCOUNTS].issue_token(alpha_admin, "t")).secret
        answer = await alpha.client.post(
            "/api/v1/moderation/domain_blocks",
            json={"domain": beta.domain, "reason": "Spam source"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status == 201, await answer.text()
        assert (await answer.json())["domain"] == beta.domain

        # Its cached content is purged.
        assert await alpha_store.get_remote_actor(beta.actor("bob")) is None
        assert await alpha_store.get_remote_actor(f"{beta.base_url}/actor") is None
        assert await alpha_store.get_post_by_uri(hello.uri) is None
        assert await alpha_store.get_follow(alpha.actor("alice"), beta.actor("bob")) is None
        assert await alpha_store.get_follow(beta.actor("bob"), alpha.actor("alice")) is None
        assert [post.uri for post in await alpha.home(alice)] == [spam.uri]  # her own only

        # Inbound: beta still thinks bob follows alice and alice follows bob. Its signed
        # deliveries are refused with 403, and alpha stores nothing of them.
        stored_before = await inbox_rows(alpha_store)
        refused = await beta.post(bob, "Do you still hear me?")

        async def answered_403() -> bool:
            rows = await beta_store.list_deliveries(f"{refused.uri}/activity")  # its Create
            return bool(rows) and all(
                row.last_status == 403 and row.state is DeliveryState.GAVE_UP for row in rows
            )

        await eventually(answered_403)
        await beta.app[appkeys.FOLLOWS].unfollow(bob, alpha.handle("alice"))  # an Undo too
        direct = await alpha.client.post(  # and a replay through the shared inbox
            "/inbox",
            data=b"{}",
            headers={"Content-Type": "application/activity+json"},
        )
        assert direct.status in (400, 401)  # unsigned: refused before any policy applies
        assert await inbox_rows(alpha_store) == stored_before
        assert await alpha_store.get_remote_actor(beta.actor("bob")) is None
        assert await alpha_store.get_post_by_uri(refused.uri) is None

        # Outbound: nothing is queued for beta, and nothing queued earlier is sent.
        beta_stored = await inbox_rows(beta_store)
        assert (
            await alpha.app[appkeys.DELIVERER].publish(
                {
                    "id": f"{alpha.base_url}/activities/x",
                    "type": "Update",
                    "actor": alpha.actor("alice"),
                },
                signer_account_id=alice.id,
                inboxes=[f"{beta.base_url}/inbox", f"{beta.base_url}/users/bob/inbox"],
            )
            == 0
        )
        now = utc_now()
        stale = OutboundActivity(
            id=f"{alpha.base_url}/activities/queued-before-the-block",
            actor=alpha.actor("alice"),
            signer_account_id=alice.id,
            activity_type="Update",
            raw=json.dumps({"type": "Update", "actor": alpha.actor("alice")}),
            created_at=now,
        )
        assert await alpha_store.create_outbound(stale, [f"{beta.base_url}/inbox"], now=now) == 1

        async def given_up() -> bool:
            [row] = await alpha_store.list_deliveries(stale.id)
            return row.state is DeliveryState.GAVE_UP and row.last_error == "domain_blocked"

        await eventually(given_up)
        with pytest.raises(NotFound):
            await alpha.app[appkeys.FOLLOWS].follow(alice, beta.handle("bob"))
        await alpha.post(alice, "Anyone on beta?", Visibility.PUBLIC)
        assert await inbox_rows(beta_store) == beta_stored

        # The audit log has both moderators' actions.
        [entry] = [
            entry
            for entry in (await alpha_store.list_audit_entries(before=None, limit=10))
            if entry.action == "domain.block"
        ]
        assert (entry.moderator_id, entry.target, entry.reason) == (
            alpha_admin.id,
            beta.domain,
            "Spam source",
        )
        beta_actions = [e.action for e in await beta_store.list_audit_entries(before=None, limit=5)]
        assert beta_actions == ["report.resolve"]


# --- the command line ----------------------------------------------------------------------

# The command-line tests' fixtures: a config file for the backend under test, `fedipoly ARGS`.
config_file = test_cli.config_file
run_cli = test_cli.run_cli
app_client = test_cli.app_client


async def test_operators_block_domains_and_suspend_members_from_the_command_line(
    run_cli: RunCli, app_client: TestClient
) -> None:
    app = app_client.server.app
    store = app[appkeys.STORE]
    await store.upsert_remote_actor(remote_actor("spammer", "spam.example"))
    code, out, err = await run_cli("domain-blocks", "add", "Spam.Example", "--reason", "spam")
    assert (code, out, err) == (0, "blocked spam.example\n", "")
    assert await store.get_remote_actor("https://spam.example/users/spammer") is None
    code, out, _ = await run_cli("domain-blocks", "list")
    assert (code, out) == (0, "spam.example\n")
    code, _, err = await run_cli("domain-blocks", "add", "spam.example")
    assert code == 1 and err == "fedipoly: error: spam.example is blocked already\n"
    code, out, _ = await run_cli("domain-blocks", "remove", "spam.example")
    assert (code, out) == (0, "unblocked spam.example\n")
    code, out, _ = await run_cli("domain-blocks", "list")
    assert (code, out) == (0, "")

    member = await app[appkeys.ACCOUNTS].register(
        username="sam",
        email="sam@example.test",
        password="correct horse battery",
        invite_code=None,
        bypass_registration_mode=True,
    )
    chess = await app[appkeys.BADGES].get_badge("chess", None)
    await app[appkeys.BADGES].add_badges(member, ["chess"])
    await store.set_badge_announce_preference(member.id, True)
    await follow_badge(store, app[appkeys.BADGE_ACTORS], chess)
    await app[appkeys.POSTS].create(member, "a game", Visibility.PUBLIC, activity_tags=[CHESS])
    assert len(await store.badge_announces_of_author(member.id, chess.id)) == 1
    code, out, _ = await run_cli("moderation", "suspend", "sam", "--reason", "spam")
    assert (code, out) == (0, "suspended @sam\n")
    assert (await store.get_account(member.id)).suspended  # type: ignore[union-attr]
    # The badge's boost of sam's post (now a 404) is withdrawn from the command line too.
    assert await store.badge_announces_of_author(member.id, chess.id) == []
    code, out, _ = await run_cli("moderation", "unsuspend", "sam")
    assert (code, out) == (0, "restored @sam\n")
    code, _, err = await run_cli("moderation", "suspend", "nobody")
    assert code == 1 and "no such account" in err
    entries = await store.list_audit_entries(before=None, limit=10)
    assert {entry.moderator_id for entry in entries} == {None}  # "command line"
    assert [entry.action for entry in entries][:2] == ["account.unsuspend", "account.suspend"]
