"""The Textual front end: panes on guest commands, layout, panels, themes.

It reaches VMs only through the public async API (``cctui.aio``) and draws
guest output only through the terminal model (``cctui.terminal``).
"""
