"""Report renderers (HTML, PDF, JSON) fed with data by the services."""
