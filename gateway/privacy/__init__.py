"""Phone numbers kept private: keyed hashes for look-ups, encryption for the few we keep,
key rotation.
"""
