"""Operating the site, not its domain: health probes, demo data, statistics.

Kept apart from moderation so that moderation stays about moderators'
decisions, and so nothing here is mistaken for a domain rule.
"""
