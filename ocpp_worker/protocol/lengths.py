"""OCPP 1.6 string lengths (§7, the CiString<N>Type types) that the central system
checks itself, outside the JSON schemas: in the API, the CLI, the configuration
manager and the charger-id rule."""

ID_TOKEN = 20  # IdToken: idTag, parentIdTag (CiString20Type)
CHARGE_BOX_IDENTITY = 48  # the charger id in the WebSocket path (CiString48Type)
CONFIGURATION_KEY = 50  # ChangeConfiguration.key (CiString50Type)
CONFIGURATION_VALUE = 500  # ChangeConfiguration.value (CiString500Type)
