"""Marshmallow schemas of request bodies, query strings and response data, one module
per resource. camelCase lives here only (field names and `data_key`)."""
