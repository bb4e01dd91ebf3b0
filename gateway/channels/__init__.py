"""SMS channels that are not SMPP: Africa's Talking's HTTP messaging API."""
