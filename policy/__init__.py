"""The homelab policy pack: rules as plain functions (rules.py), the Pulumi pack (pack.py, __main__.py)
and the offline runner over the synth output (offline.py)."""
