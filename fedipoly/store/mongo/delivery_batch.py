"""Deliveries recorded in batches on MongoDB: a worker's finished attempts in one unordered
bulk write, and the circuit breaker's state of a batch's hosts in one query."""

from __future__ import annotations

from datetime import datetime

from pymongo import UpdateOne

from fedipoly.models import FinishedDelivery
from fedipoly.store.mongo.core import MongoCore, as_utc


class MongoDeliveryBatch(MongoCore):
    async def finish_deliveries(self, finished: list[FinishedDelivery]) -> None:
        if not finished:
            return
        # Each update is finish_delivery's: filtered on this worker's lease token, so a row
        # another worker has re-claimed since is left alone. No transactions are needed: each
        # update is atomic on its own document and they are independent.
        await self.mdb.deliveries.bulk_write(
            [
                UpdateOne(
                    {"_id": item.claimed.delivery.id, "lease_token": item.claimed.lease_token},
                    {
                        "$set": {
                            "state": item.state.value,
                            "next_attempt_at": item.next_attempt_at,
                            "first_attempt_at": item.claimed.delivery.first_attempt_at
                            or item.finished_at,
                            "last_status": item.last_status,
                            "last_error": item.last_error,
                            "lease_token": None,
                            "lease_until": None,
                        },
                        "$inc": {"attempts": 1},
                    },
                )
                for item in finished
            ],
            ordered=False,
        )

    async def hosts_failures(self, hosts: list[str]) -> dict[str, tuple[int, datetime | None]]:
        wanted = sorted(set(hosts))
        if not wanted:
            return {}
        return {
            doc["_id"]: (int(doc["consecutive_failures"]), as_utc(doc.get("last_failure_at")))
            async for doc in self.mdb.host_health.find({"_id": {"$in": wanted}})
        }
