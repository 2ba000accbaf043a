"""Exchange with the tools researchers already use: ELAN (EAF)."""
