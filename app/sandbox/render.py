"""The bot's replies as JSON objects (`--json`) or as readable text for a terminal."""
from __future__ import annotations

from typing import Any

from app.cli.output import human_bytes
from app.doubles import Reply
from app.sandbox.script import Action


def reply_object(action: Action, reply: Reply) -> dict[str, Any]:
    """One reply as the sandbox's JSON contract (ARCHITECTURE.md) describes it."""
    out: dict[str, Any] = {
        "line": action.line, "guild_id": action.guild_id, "user_id": action.user_id,
        "ephemeral": reply.ephemeral, "content": reply.content,
        "embeds": [{"title": e.get("title"), "description": e.get("description"),
                    "fields": [{"name": f.get("name"), "value": f.get("value")} for f in e.get("fields", [])],
                    "footer": (e.get("footer") or {}).get("text")}  # a leaderboard's own rank and page
                   for e in reply.embeds],
        "components": [str(b.get("label") or b.get("custom_id")) for b in reply.buttons()]
                      + [str(m.get("placeholder") or m.get("custom_id")) for m in reply.selects()],
        "choices": [],
        "attachments": [{"filename": a.filename, "size": a.size} for a in reply.attachments],
    }
    if reply.kind == "modal" and reply.modal is not None:
        fields = [c for row in reply.modal.get("components", []) for c in row.get("components", [])]
        out["modal"] = {"title": reply.modal.get("title"),
                        "fields": [str(f.get("label") or f.get("custom_id")) for f in fields]}
    return out


def choices_object(action: Action, choices: list[dict[str, Any]]) -> dict[str, Any]:
    """An autocomplete's answer: the names of the choices offered (the other keys as in every reply object;
    only the member typing sees the choices)."""
    return {"line": action.line, "guild_id": action.guild_id, "user_id": action.user_id,
            "ephemeral": True, "content": "", "embeds": [], "components": [],
            "choices": [str(c.get("name")) for c in choices], "attachments": []}


def event_object(action: Action, event: str) -> dict[str, Any]:
    return {"line": action.line, "guild_id": action.guild_id, "user_id": action.user_id, "event": event}


def error_object(line: int, message: str) -> dict[str, Any]:
    return {"line": line, "error": message}


def reply_text(obj: dict[str, Any]) -> str:
    """A reply object flattened for a terminal: embeds as indented text, ephemeral marked."""
    lines = []
    marker = "🔒 only you can see this" if obj["ephemeral"] else "visible to the channel"
    lines.append(f"  ↳ bot ({marker})")
    if obj["content"]:
        lines.extend(f"    {line}" for line in obj["content"].splitlines())
    for embed in obj["embeds"]:
        if embed["title"]:
            lines.append(f"    ┃ {embed['title']}")
        if embed["description"]:
            lines.extend(f"    ┃ {line}" for line in embed["description"].splitlines())
        for f in embed["fields"]:
            value_lines = str(f["value"]).splitlines() or [""]
            if len(value_lines) == 1:
                lines.append(f"    ┃ • {f['name']}: {value_lines[0]}")
            else:
                lines.append(f"    ┃ • {f['name']}:")
                lines.extend(f"    ┃     {v}" for v in value_lines)
        if embed.get("footer"):
            lines.append(f"    ┃ — {embed['footer']}")
    if "modal" in obj:
        lines.append(f"    [form: {obj['modal']['title']} — fields: {', '.join(obj['modal']['fields'])}]")
    if obj["components"]:
        lines.append(f"    [buttons: {' | '.join(obj['components'])}]")
    lines.extend(f"    [file: {a['filename']}, {human_bytes(a['size'])}]" for a in obj["attachments"])
    return "\n".join(lines)


def action_text(action: Action) -> str:
    """The input line, echoed readably before its replies."""
    where = "DM" if action.guild_id is None else f"server {action.guild_id}"
    if action.kind == "clock":
        return f"[{action.line}] the clock moves forward {int(action.seconds)} s"
    if action.kind.startswith("bot_"):
        return f"[{action.line}] {where}: the bot is {'added' if action.kind == 'bot_join' else 'removed'}"
    who = f"user {action.user_id}{' (admin)' if action.admin else ''}"
    if action.kind == "command":
        options = " ".join(f"{k}:{v}" for k, v in action.options.items())
        return f"[{action.line}] {where}, {who}: /{action.command} {options}".rstrip()
    if action.kind == "modal":
        return f"[{action.line}] {where}, {who} submits the form: {action.options}"
    detail = {"click": f"clicks {action.text!r}", "say": f"says {action.text!r}",
              "join": "joins" + (f" by invite {action.options['invite']}" if "invite" in action.options else ""),
              "leave": "leaves", "select": f"chooses {', '.join(action.values)} in {action.text!r}",
              "autocomplete": f"types into /{action.command} {action.text}: {action.options.get(action.text)!r}",
              "invite": f"creates invite {action.text}", "role": f"gets a role: {', '.join(action.values)}",
              }[action.kind]
    return f"[{action.line}] {where}, {who} {detail}"
