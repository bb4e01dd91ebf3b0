"""Alerts to subscribers: the state machine, the operator service, the sender worker,
delivery tracking, and the SMS/USSD subscription services."""
