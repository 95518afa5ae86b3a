"""The sandbox: the real bot against local doubles, driven by script lines (also the e2e test harness)."""
