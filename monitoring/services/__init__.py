"""One function per user action (record a set, review, dose, import labs, act on an alert, manage users).

Each checks the permission, validates, stores, audits and re-evaluates the alerts in one transaction,
so the pages and the command line call the same code.
"""
