"""Batch runs of the report notebooks: ``peel-reports`` (see :mod:`peel_helpers.batch.runner`).

``runner``       the command line, jobs, fingerprints, atomic outputs, the local process pool
``kernels``      forked kernels, worker side: the template handle and the forked-process handle
``template``     the template process itself: pre-imported stack, fork-safety checks, kernel children
``provisioner``  the Jupyter kernel manager and provisioner that launch kernels from the template
``cluster``      the same jobs on a Dask cluster (``--scheduler``; the optional ``cluster`` extra)
"""
