"""Batch scans: inputs streamed as work items, analysed in one process or on Dask, written by one driver."""
