"""The audit log: who did what to which recording or study, when, from where."""
