"""Exit codes of every command (design §5, a contract): scripts and batch summaries read them."""

EXIT_OK = 0
EXIT_INTERNAL = 1  # a defect: the one-line message says rerun with --debug
EXIT_INPUT = 2  # bad input or usage: one line naming the field and the value
EXIT_BLOCKED = 3  # blocked or held by a safety rule, or refused (wrong person, role or state)
EXIT_DISCREPANCY = 4  # a verification found a dose outside tolerance (or a broken audit chain)
