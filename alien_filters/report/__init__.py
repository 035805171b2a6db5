"""The dataset report: tags, style distribution, co-occurrence, theme coverage and clusters over a folder.

Entry points: :func:`alien_filters.report.run.run_report` and the ``report`` sub-command
(:mod:`alien_filters.report.cli`). Submodules are imported on use, so the command line starts quickly.
"""
