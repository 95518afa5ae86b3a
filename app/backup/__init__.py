"""Backups of the guild folder: online, consistent, incremental copies in dated generations, and restores."""
from __future__ import annotations

from app.backup.generations import BackupReport, backup_folder
from app.backup.restore import RestoreResult, restore_files, restore_guild

__all__ = ["BackupReport", "RestoreResult", "backup_folder", "restore_files", "restore_guild"]
