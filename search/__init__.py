"""Hourglass's search: studies, trials, training and findings.

Every command of this package starts here, before its heavy imports, so bytecode is kept from the
first of them on hosts where Python would compile each module at every launch.
"""

from search.bytecode import keep_bytecode

keep_bytecode()
