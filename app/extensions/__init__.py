"""Slash-command extensions: one module per feature, each with `loader = lightbulb.Loader()`.

Every module here (not starting with `_`) is loaded by the bot; adding a feature is adding a module.
"""
