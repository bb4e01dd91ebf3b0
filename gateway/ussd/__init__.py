"""USSD: the channel-neutral service and the channel dialects that feed it."""
