"""reelpoet editor integration: OpenTimelineIO timelines and a PyQt6 panel (a later issue).

Imports no torch, and no Qt at import time: the panel module loads PyQt6 only when it is used.
"""
