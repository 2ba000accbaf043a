"""Accounts: users, password hashing, login sessions and personal API tokens."""
