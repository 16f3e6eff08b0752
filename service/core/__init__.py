"""What every stage shares: numbers, alignment of quotes, evidence of table cells, candidates and their
merging, score tables and project lists read from cells, and the genre's words.

Both engines and the checks build on these; nothing here imports an engine, the store or the web app
(`finish`, the steps every engine ends with, runs the pure rules of `service.check.consistency`).
"""
