"""SMPP 3.4: a pure codec and sans-I/O connection, and the asyncio ESME pool around them."""
