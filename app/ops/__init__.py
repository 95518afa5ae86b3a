"""Running the bot in production: metrics and health, the command budget, logs, the storage quota."""
