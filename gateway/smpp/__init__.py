"""SMPP 3.4 for the gateway: pure cores, and the asyncio pool around them.

Pure (no I/O, no clock): ``pdu`` (frozen PDUs, layouts), ``codec`` (bytes <-> PDUs,
framing with a length cap), ``connection`` (the sans-I/O session and its one state
table), ``events``, ``errors``, ``throttle`` (rate cap), ``receipts`` (reading
delivery receipts), ``receipt_ids`` (an SMSC's id format, learned), ``receipt_tracker``
(each receipt to exactly its message, ids scoped by SMSC account), ``ussd_profiles``
(op-code profiles). Adapters: ``submits`` (one bind's submit
queue), ``esme`` (one bind over asyncio), ``inbound`` (MO, receipts, USSD to the
sink and handler), ``durable_receipts`` (held receipts and learned id formats kept
in the store), ``pool`` (every bind, as the SMSSender). Splitting and
reassembly of long SMS live in :mod:`gateway.sms.segmentation`.
"""
