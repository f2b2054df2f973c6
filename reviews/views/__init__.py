"""The back office's pages (server-rendered, enhanced with htmx) and the public 公示 pages."""
