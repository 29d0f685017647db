"""The publisher: what runs after the batch, in the runner's process and its workers, never in a
kernel. It turns executed section notebooks into the pages a reader opens: each section's page,
each force's combined report with its CSVs (and PDF), each window's national page, the assumptions
page and the index. It builds on nbconvert's own extension points (an exporter registered as
``peel_report``, preprocessors, Jinja templates, one style sheet) and writes every file through
:mod:`peel_helpers.core.records`.

It may import core, data, measures and the report helpers (for the CSV writer and the display
cells); it never imports the batch, which runs before it.
"""
