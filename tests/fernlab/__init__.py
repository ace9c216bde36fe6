"""fern's test harness: boots chapter ISOs in QEMU and grades what they print.

Test files import what they need from here:

    from fernlab import test, Boot, EXIT_SUCCESS
"""

from .grader import Boot, Fail, test
from .qemu import EXIT_FAILURE, EXIT_SUCCESS, HarnessError, Machine

__all__ = ["Boot", "Fail", "test", "EXIT_FAILURE", "EXIT_SUCCESS",
           "HarnessError", "Machine"]
