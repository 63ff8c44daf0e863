"""Vendor-specific DataTransfer handlers (OCPP 1.6 §4.3).

A deployment adds its own with ``@vendor("com.example")`` in a module it lists in
``OCPP_EXTRA_IMPORTS`` (see celeryconfig.py). A vendorId nobody registered is
answered ``UnknownVendorId``.
"""

from __future__ import annotations

from collections.abc import Callable

from ocpp.v16 import call, call_result

from ocpp_worker.handlers.registry import CallContext

VendorHandler = Callable[[CallContext, call.DataTransfer], call_result.DataTransfer]
VENDORS: dict[str, VendorHandler] = {}


def vendor(vendor_id: str) -> Callable[[VendorHandler], VendorHandler]:
    def register(fn: VendorHandler) -> VendorHandler:
        VENDORS[vendor_id] = fn
        return fn

    return register
