"""Reports of a run: the live console, the recap table, JSON, JUnit, HTML.

Each writer is a pure function of the run's results (`RunResult` or the JSON
report dict), so the same run can be rendered again at any time.
"""
