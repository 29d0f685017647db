"""Batch runs of the report notebooks: ``peel-reports`` (see :mod:`peel_helpers.batch.runner`)."""
