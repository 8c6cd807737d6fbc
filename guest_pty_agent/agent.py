"""Sessions one after another over a transport, and what happens when one ends."""
from __future__ import annotations

import sys

from . import power
from .loop import Loop
from .session import EOF, POWEROFF, Session

FLUSH_TIMEOUT = 2.0


class Agent:
    def __init__(self, transport, init: bool) -> None:
        self.transport = transport
        self.init = init
        self.loop = Loop()
        if init:
            power.become_subreaper()

    def run(self) -> int:
        """Serve until the channel is gone for good or the VM powers off; the exit status."""
        while True:
            fd = self.transport.connect(self.loop.reap)
            if fd is None:
                return 0
            session = Session(fd, self.loop)
            outcome = session.serve()
            session.out.flush_blocking(fd, FLUSH_TIMEOUT)   # ERROR, the init exec's EXIT...
            init_killed = session.shutdown()
            self.transport.close(fd)
            if outcome == POWEROFF or (init_killed and self.init):
                if self.init:
                    power.power_off()        # returns only when not really PID 1
                return 0
            if init_killed:
                return 0                     # a local agent just ends with its init exec
            if not self.transport.reconnects:
                return 0 if outcome == EOF else 2
            if outcome != EOF:      # EOF repeats while no host is attached: stay quiet
                print(f"guest_pty_agent: session ended ({outcome}); waiting for the host",
                      file=sys.stderr)
