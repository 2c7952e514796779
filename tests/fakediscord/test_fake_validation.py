"""Discord's limits as the fake enforces them (pure checks, no server)."""

from __future__ import annotations

from typing import Any

from tests.fakediscord import validation as v


def paths(body: dict[str, Any] | None) -> list[str]:
    """Flatten a 50035 error tree into dotted paths, like discord.py's e.text."""
    assert body is not None and body["code"] == 50035
    found: list[str] = []

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, child in node.items():
            if key == "_errors":
                found.append(prefix)
            else:
                walk(child, f"{prefix}.{key}" if prefix else key)

    walk(body["errors"], "")
    return found


def command(**extra: Any) -> dict[str, Any]:
    return {"name": "next", "description": "Next talk", "type": 1, **extra}


def test_a_valid_command_list_passes() -> None:
    options = [
        {
            "type": 3,
            "name": "speaker",
            "description": "Who",
            "required": True,
            "autocomplete": True,
        },
        {
            "type": 4,
            "name": "count",
            "description": "How many",
            "choices": [{"name": "one", "value": 1}],
        },
    ]
    assert v.validate_commands([command(options=options), {"name": "Pin Talk", "type": 3}]) is None


def test_command_rules() -> None:
    bad = [
        command(name="Next"),
        command(name="two words"),
        command(description="x" * 101),
        command(
            options=[
                {"type": 3, "name": "a", "description": "d"},
                {"type": 3, "name": "b", "description": "d", "required": True},
            ]
        ),
        command(
            options=[
                {
                    "type": 3,
                    "name": "a",
                    "description": "d",
                    "autocomplete": True,
                    "choices": [{"name": "x", "value": "x"}],
                }
            ]
        ),
        command(
            description="x" * 100,
            options=[
                {
                    "type": 3,
                    "name": f"o{i}",
                    "description": "d" * 100,
                    "choices": [{"name": "c" * 100, "value": f"{j}" * 100} for j in range(3)],
                }
                for i in range(20)
            ],
        ),
    ]
    errors = paths(v.validate_commands(bad))
    assert "0.name" in errors and "1.name" in errors and "2.description" in errors
    assert "3.options.1.required" in errors
    assert "4.options.0.autocomplete" in errors
    assert "5" in errors  # over 8000 characters in total


def test_message_limits() -> None:
    embed = {
        "title": "t" * 257,
        "url": "ftp://x",
        "fields": [{"name": "n"}],
        "footer": {"text": "f" * 2049},
    }
    components = [
        {
            "type": 1,
            "components": [
                {"type": 2, "style": 1, "custom_id": "a", "label": "x" * 81},
                {"type": 2, "style": 1, "custom_id": "a"},
                {"type": 2, "style": 5, "url": "https://x.test", "custom_id": "c"},
            ],
        }
    ]
    errors = paths(
        v.validate_message(
            {"content": "c" * 2001, "embeds": [embed], "components": components, "nonce": "n" * 26}
        )
    )
    for expected in (
        "content",
        "embeds.0.title",
        "embeds.0.url",
        "embeds.0.fields.0.value",
        "embeds.0.footer.text",
        "components.0.components.0.label",
        "components.0.components.1.custom_id",
        "components.0.components.2.custom_id",
        "nonce",
    ):
        assert expected in errors, expected
    total = [{"description": "d" * 4000}, {"description": "d" * 2001}]
    assert paths(v.validate_message({"embeds": total})) == ["embeds"]
    assert v.validate_message({}) == {"code": 50006, "message": "Cannot send an empty message"}
    assert (
        v.validate_message(
            {"content": "hi", "allowed_mentions": {"parse": ["users"], "users": ["1"]}}
        )
        is not None
    )
