"""Presentation: every table of the terminal, built once as rows, rendered as text.

Pure: the JSON data of a summary (or a result's tables) in, :class:`~sim.present.table.Table`
objects and text out; nothing is printed, nothing is computed that the analysis did not.
The command line prints the text; the HTML report (:mod:`sim.report`) renders the same
tables as HTML; the result objects' ``table()`` methods hand their data to the functions
here.
"""
