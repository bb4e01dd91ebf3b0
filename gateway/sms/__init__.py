"""Pure SMS text work: GSM-7/UCS-2 encoding, segmentation, keywords, and the messages that
cross channels.
"""
