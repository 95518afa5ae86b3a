"""What the data-rights commands say (kept apart so the commands stay thin); no Discord calls here."""
from __future__ import annotations

from typing import Any

import hikari

from app.cli.output import human_bytes
from app.rights.export import PackedExport
from app.rights.guild_delete import GuildDeletion
from app.rights.member import MemberErasure

DELETE_LABEL = "Delete everything"
ERASE_LABEL = "Erase my data"
CANCEL_LABEL = "Cancel"
NAME_FIELD = "Server name"


def delete_warning(server_name: str | None, expected: str) -> str:
    what = f"**{server_name}**" if server_name else "this server"
    confirm = "type the server's name" if server_name else f"type this server's id ({expected})"
    return (f"This deletes **everything** the bot stores for {what}: members' links and "
            "reading progress, XP, achievements, challenges, recommendations, the invite tracker and the "
            "server's settings. It cannot be undone; export first with `/server-data export` if you want a "
            f"copy. Press the button, then {confirm} to confirm.")


def modal_title() -> str:
    return "Delete this server's data"


def name_mismatch() -> str:
    return "What you typed is not this server's name: nothing was deleted."


def guild_deleted(deletion: GuildDeletion) -> str:
    return (f"Deleted: {deletion.rows_deleted} rows ({human_bytes(deletion.bytes_deleted)}) are gone "
            f"for good (receipt #{deletion.receipt.id}). Using the bot here from now on starts from nothing.")


def nothing_stored() -> str:
    return "The bot stores nothing for this server yet."


def cancelled() -> str:
    return "Cancelled: nothing was deleted."


def timed_out() -> str:
    return "No confirmation came in time: nothing was deleted."


def not_yours() -> str:
    return "This confirmation belongs to someone else."


def form_not_yours() -> str:
    return "This form belongs to another server or member: nothing was deleted."


def export_ready(packed: PackedExport) -> str:
    return (f"This server's database ({sum(packed.result.tables.values())} rows, "
            f"{human_bytes(packed.result.bytes_written)}; {human_bytes(packed.compressed_bytes)} compressed). "
            "Open it with any SQLite tool after unzipping (gunzip).")


def export_too_big(packed: PackedExport, limit: int, guild_id: int) -> str:
    return (f"This server's database is {human_bytes(packed.compressed_bytes)} even compressed, over the "
            f"{human_bytes(limit)} Discord allows as an attachment here. Ask the bot's operator for it: "
            f"they can run `python -m app guild export {guild_id} --out FILE`.")


def export_too_big_raw(size: int, limit: int, guild_id: int) -> str:
    return (f"This server's database is {human_bytes(size)}, far over the {human_bytes(limit)} Discord allows "
            "as an attachment here. Ask the bot's operator for it: they can run "
            f"`python -m app guild export {guild_id} --out FILE`.")


def member_nothing_stored() -> str:
    return "The bot stores nothing about you in this server (it stores nothing for this server yet): no file."


def member_export_ready(rows: int) -> str:
    if not rows:
        return "The bot stores no rows about you in this server; the file shows what it checked."
    return f"Everything the bot stores about you in this server: {rows} rows, one section per table."


def erase_warning() -> str:
    return ("This erases what the bot stores about you in this server (links, progress, XP, achievements, "
            "recommendations, invite records). Where you appear in someone else's record, for example as "
            "the inviter of their join, your id is removed and their record stays. If you joined the global "
            "leaderboards, your published totals are withdrawn everywhere too. It cannot be undone.")


def member_erased(erased: MemberErasure) -> str:
    withdrawn = "Your published totals were withdrawn from the global leaderboards everywhere."
    if not erased.rows_changed:
        if erased.published:
            return f"The bot stored nothing else about you in this server. {withdrawn}"
        return "The bot stored nothing about you in this server: there was nothing to erase."
    return (f"Erased {erased.rows_deleted} rows about you in this server and removed your id from "
            f"{erased.rows_changed - erased.rows_deleted} other records. "
            + (f"{withdrawn} " if erased.published else "")
            + "Using the bot again here stores new data from then on.")


def privacy_embed(retention_days: int, legacy_keep_days: int = 30, backup_retention_days: int = 30) -> hikari.Embed:
    kept = "at once" if retention_days == 0 else f"{retention_days} days"
    embed = hikari.Embed(title="Privacy: what this bot stores",
                         description="Each server's data lives in its own database file, separate from "
                                     "every other server's; no server can see another's.")
    embed.add_field("What", "Your Discord id and name as the bot saw them, AniList and Steam links you made, "
                            "manga progress, cached stats, XP, achievements, challenge progress, "
                            "recommendations and votes, preferences, and invite-tracker records (who "
                            "invited whom, joins and leaves). Never message content.")
    embed.add_field("Where", "On the bot operator's server, in this server's own file. Public AniList media "
                             "data is cached separately and holds nothing about you.")
    embed.add_field("How long", "As long as the bot is in this server. When the bot is removed, the "
                                f"server's file is deleted after {kept} unless the bot is added back.")
    embed.add_field("Your data", "`/my-data export` sends you a copy; `/my-data delete` erases it here, "
                                 "including from the copies of the old bot's database kept after the move "
                                 f"(those copies are removed for good {legacy_keep_days} days after it). "
                                 "For every server at once, ask the bot's operator.")
    embed.add_field("Backups", "The operator's backups copy each server's file. A deleted server, or data "
                               "you erased, is left out of every later backup; backups made before keep it "
                               f"for at most {backup_retention_days} days, then they are removed. Where the "
                               "operator runs a live replica, an erasure replaces it with a fresh copy within a "
                               "minute, on the operator's disks and on cloud storage alike.")
    embed.add_field("Receipts", "Each deletion or erasure leaves a receipt: who asked, when, and how many rows, "
                                "never any content. A receipt of your erasure keeps your Discord id, so that "
                                "the operator can show it was done; receipts are kept for as long as the bot "
                                "is operated.")
    embed.add_field("Across servers (off unless chosen)",
                    "Nothing leaves this server unless its admins turn sharing on (`/server-data sharing on`): "
                    "then only its totals (linked members, chapters read, top genres, active challenges) go to "
                    "a separate cross-server file. Your own totals (chapters, XP, achievements) go there only "
                    "if you also run `/global join` here, under the name you choose; `/global leave`, "
                    "`/my-data delete`, sharing off and deleting the server's data remove them at once, and "
                    "`/my-data export` includes them.")
    embed.add_field("This server's data", "Admins (Manage Server) can use `/server-data export` for a "
                                          "copy and `/server-data delete` to erase it all.")
    return embed


def sharing_on(name: str, allow_compare: bool) -> str:
    compare = ("other servers may compare against it by name" if allow_compare
               else "other servers may not compare against it by name")
    return (f"Sharing is on: this server's totals are published as “{name}” ({compare}). Members' own totals "
            "are published only for those who run /global join here. /server-data sharing off withdraws "
            "everything at once.")


def sharing_off(was_on: bool) -> str:
    if not was_on:
        return "Sharing was already off: nothing of this server is published."
    return ("Sharing is off: this server's totals and its members' contributions were removed from the "
            "cross-server figures.")


def sharing_status(row: Any, joined: int) -> str:
    if row is None:
        return "Sharing is off: nothing of this server is published. /server-data sharing on publishes its totals."
    allow, updated, _, members, month, total, challenges, _ = row
    compare = "allowed" if allow else "not allowed"
    return (f"Sharing is on (comparison by name {compare}): {members:,} linked members, {total:,} chapters "
            f"({month:,} this month), {challenges:,} active challenges, published {updated} UTC; "
            f"{joined:,} member(s) joined the global leaderboards here.")
