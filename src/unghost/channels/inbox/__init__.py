"""Reading inbound mail: the new text of a reply, auto-replies, bounces, intent and dates.

Pure code: no database, no network, no clock (`now` is an argument).
"""
