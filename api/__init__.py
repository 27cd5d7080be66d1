"""The two front doors: the FastAPI application and the ``spendsentry`` command line."""
