"""Checking a record, after any engine: pure functions of the document and the values.

`consistency` holds the rules a report must obey (parts add up to their total, a score within its weight,
a year in range); `grounding` finds a value in the report's text by its number; `recheck` and `rows` re-check
a record's fields and score rows against the document and a second reading; `presence` sends an expected fact
that was not found to review; `calibration` measures the routing on injected mistakes; `threshold_learning`
proposes thresholds from what reviewers did with the values (the 校准 page); `prior_year` finds the figures of
last year a report states (`prior_text`, `prior_tables`) and holds them against last year's record.
"""
