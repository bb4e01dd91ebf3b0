"""A low-bandwidth USSD/SMS information gateway for people on the move."""

__version__ = "0.1.0"
