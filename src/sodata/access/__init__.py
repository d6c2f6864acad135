"""Access rights, decided here and nowhere else.

Routes never decide rights themselves: they ask for a corporate account through
`ReadableCa`, `WritableCa` or `AdminCa`, and every query of a resource starts from that
account. An account the caller is not linked to does not exist for them (404).
"""
