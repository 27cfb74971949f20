"""Privacy: what stemme stores for the team, the audit log, erasing a resident, and the
readable access report."""
