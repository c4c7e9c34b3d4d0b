"""Incident extraction from English conflict news (DESIGN §5).

``extract.Extractor`` is the entry point (``get_extractor()`` for the process-wide instance); the other modules
each handle one concern: ``sentences`` (splitting, what is not an incident), ``triggers`` (sub-event types),
``casualties``, ``actors`` (perpetrator sides), ``targets`` (what was hit), ``dates`` (relative dates in
Asia/Damascus, day/week/month precision), ``toponyms``
(gazetteer matching, "village of X" patterns, regions) and ``relevance`` (the pre-filter that runs before spaCy).
"""
