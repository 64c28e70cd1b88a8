"""Accounts: mail, email verification, password reset, deletion, data export, reports."""
