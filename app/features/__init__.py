"""Feature logic: query functions and rules, no Discord (extensions call these)."""
