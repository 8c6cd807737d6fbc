"""The per-user cctui server: it owns sessions, windows, panes and their VMs.

Clients (the scripting CLI today, the TUI later) talk to it over a unix socket
in a 0700 directory with the agent protocol's framing (``wire.py``). The domain
(``domain.py``) is plain asyncio Python, testable without Textual.
"""
