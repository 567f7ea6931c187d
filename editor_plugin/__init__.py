"""reelpoet editor integration: OpenTimelineIO timelines and a PyQt6 panel.

The package and its model layer (``timeline_document``, ``edits``, ``actions``...) import neither
PyQt6 nor torch, so the CLI and scripts edit timelines without a display; the widget modules
(``panel``, ``timeline_view``, ``viewer``, ``jobs``, ``app``) import PyQt6.
"""
