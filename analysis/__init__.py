"""Statistics, comparison tables, figures and reports from edgesim output folders.

Modules: :mod:`analysis.runs` (loading, folder kinds), :mod:`analysis.stats` (per-run
statistics), :mod:`analysis.servers` (utilisation, queues, Little's law),
:mod:`analysis.bootstrap` (confidence intervals across seeds), :mod:`analysis.figures` and
:mod:`analysis.report` (``write_report``). :mod:`analysis.synthetic` writes small fake folders.
"""
