"""Everything that speaks Africa's Talking's dialect: USSD and SMS callbacks, the SMS
sender, the one callback-secret check.
"""
