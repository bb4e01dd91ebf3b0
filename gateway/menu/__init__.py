"""USSD menu trees: the data model, the loader, the validator and the pure engine."""
