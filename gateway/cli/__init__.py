"""The ``gateway`` command and its sub-commands (serve, validate, simulate, user, alert,
broadcast, keys).
"""
