import subprocess
import sys

import pytest

# A process that leaves an unreachable cycle with a finalizer, then exits with code 3 after printing
# from an exit handler registered later. Collection is off so only the exit's collection can find it.
PROGRAM = """
import atexit, gc, sys
from search.trials.exiting import skip_final_collection
gc.disable()
if sys.argv[1] == "skip":
    skip_final_collection()
class Cycle:
    def __del__(self):
        print("cycle collected", flush=True)
cycle = Cycle()
cycle.itself = cycle
del cycle
atexit.register(print, "later exit handler ran")
sys.stdout.write("unflushed line")
sys.exit(3)
"""


@pytest.mark.parametrize("mode", ["skip", "default"])
def test_skipping_the_final_collection_keeps_exit_handlers_output_and_exit_code(mode):
    done = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True)
    assert done.returncode == 3
    assert done.stdout.startswith("unflushed line") and "later exit handler ran" in done.stdout
    # Only the unreachable cycle is left to the operating system.
    assert ("cycle collected" in done.stdout) == (mode == "default")
