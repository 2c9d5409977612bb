"""The embedded admin's pages: one module per page, each view wrapped in ``admin_page``."""
