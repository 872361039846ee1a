"""Turn a driver's "database does not answer" errors into StoreUnavailable at the port boundary."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from fedipoly.errors import StoreUnavailable

T = TypeVar("T", bound=type)


def guard_unavailable(
    unavailable: tuple[type[BaseException], ...], is_unavailable: Callable[[BaseException], bool]
) -> Callable[[T], T]:
    """Class decorator: every public coroutine method re-raises matching errors as StoreUnavailable."""

    def decorate(cls: T) -> T:
        for name, member in inspect.getmembers(cls, inspect.iscoroutinefunction):
            if name.startswith("_") or name in ("open", "close"):
                continue
            setattr(cls, name, _wrap(member, unavailable, is_unavailable))
        return cls

    return decorate


def _wrap(
    method: Callable[..., Any],
    unavailable: tuple[type[BaseException], ...],
    is_unavailable: Callable[[BaseException], bool],
) -> Callable[..., Any]:
    @functools.wraps(method)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except unavailable as error:
            if not is_unavailable(error):
                raise
            raise StoreUnavailable(f"the database does not answer: {error}") from error

    return guarded
