"""House rule 3: the web layer talks to services, never to the store."""

from __future__ import annotations

from pathlib import Path

WEB = Path(__file__).parent.parent / "fedipoly" / "web"


def test_no_web_module_reaches_for_the_store() -> None:
    offenders = [
        path.name
        for path in sorted(WEB.glob("*.py"))
        if "appkeys.STORE" in path.read_text(encoding="utf-8")
    ]
    assert offenders == [], f"web modules using the store directly: {offenders}"
