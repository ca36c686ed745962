"""`python -m bench`."""

import signal
import sys

from bench.run import main


def _stop(signum: int, frame: object) -> None:
    # Unwind as Ctrl-C does, so the `nfe local` children and the throwaway server are stopped.
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, _stop)
sys.exit(main())
